//go:build race

package integration

// raceBuild makes TestMain build sftper with -race when the tests
// themselves run under -race, so data races in sftper fail the suite too.
const raceBuild = true
