package proto

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// typedOp is what the test command T decodes to: one argument of each kind.
type typedOp struct {
	Flag         bool
	N            int64
	HasN         bool
	Mode         uint32
	HasMode      bool
	When         int64
	HasWhen      bool
	Note         string
	HasNote      bool
	RequiredPath string
}

func (typedOp) Name() string { return "T" }

var typedCommands = Commands{"T": func(a *Args) Op {
	var o typedOp
	o.RequiredPath = a.Str("path")
	o.Flag = a.Bool("flag", true)
	o.N, o.HasN = a.Int("n", -5, 5)
	o.Mode, o.HasMode = a.Mode("mode")
	o.When, o.HasWhen = a.Time("when")
	o.Note, o.HasNote = a.OptStr("note")
	if _, ok := a.Int("needed", 0, 9); !ok {
		a.Require("needed")
	}
	return o
}}

func TestTypedArgs(t *testing.T) {
	tests := []struct {
		args string
		want typedOp
		bad  string
	}{
		{`{"path":"p","needed":1}`, typedOp{Flag: true, RequiredPath: "p"}, ""},
		{`{"path":"p"}`, typedOp{}, `T: missing argument "needed"`},
		{`{"path":"p","needed":null}`, typedOp{}, `T: missing argument "needed"`},
		{`{"path":"p","needed":10}`, typedOp{}, `T: argument "needed" is 10, out of range (0 to 9)`},
		{`{"needed":1,"path":"p","flag":false}`, typedOp{RequiredPath: "p"}, ""},
		{`{"needed":1,"path":"p","flag":null}`, typedOp{Flag: true, RequiredPath: "p"}, ""},
		{`{"path":"p","flag":1}`, typedOp{}, `T: argument "flag" must be true or false`},
		{`{"path":"p","flag":"true"}`, typedOp{}, `T: argument "flag" must be true or false`},
		{`{"needed":1,"path":"p","n":-5}`, typedOp{Flag: true, N: -5, HasN: true, RequiredPath: "p"}, ""},
		{`{"needed":1,"path":"p","n":5}`, typedOp{Flag: true, N: 5, HasN: true, RequiredPath: "p"}, ""},
		{`{"needed":1,"path":"p","n":0}`, typedOp{Flag: true, HasN: true, RequiredPath: "p"}, ""},
		{`{"needed":1,"path":"p","n":-0}`, typedOp{Flag: true, HasN: true, RequiredPath: "p"}, ""},
		{`{"path":"p","n":6}`, typedOp{}, `T: argument "n" is 6, out of range (-5 to 5)`},
		{`{"path":"p","n":-6}`, typedOp{}, `T: argument "n" is -6, out of range (-5 to 5)`},
		{`{"path":"p","n":1.0}`, typedOp{}, `T: argument "n" must be a whole number from -5 to 5, written without a fraction or exponent`},
		{`{"path":"p","n":1e0}`, typedOp{}, `T: argument "n" must be a whole number from -5 to 5, written without a fraction or exponent`},
		{`{"path":"p","n":99999999999999999999}`, typedOp{}, `T: argument "n" must be a whole number from -5 to 5, written without a fraction or exponent`},
		{`{"path":"p","n":"1"}`, typedOp{}, `T: argument "n" must be a number`},
		{`{"path":"p","n":true}`, typedOp{}, `T: argument "n" must be a number`},
		{`{"needed":1,"path":"p","n":null}`, typedOp{Flag: true, RequiredPath: "p"}, ""},
		{`{"needed":1,"path":"p","mode":420}`, typedOp{Flag: true, Mode: 0o644, HasMode: true, RequiredPath: "p"}, ""},
		{`{"needed":1,"path":"p","mode":4095}`, typedOp{Flag: true, Mode: 0o7777, HasMode: true, RequiredPath: "p"}, ""},
		{`{"path":"p","mode":4096}`, typedOp{}, `T: argument "mode" is 4096, out of range (0 to 4095)`},
		{`{"path":"p","mode":-1}`, typedOp{}, `T: argument "mode" is -1, out of range (0 to 4095)`},
		{`{"needed":1,"path":"p","when":0}`, typedOp{Flag: true, HasWhen: true, RequiredPath: "p"}, ""},
		{`{"needed":1,"path":"p","when":4294967295}`, typedOp{Flag: true, When: 4294967295, HasWhen: true, RequiredPath: "p"}, ""},
		{`{"path":"p","when":4294967296}`, typedOp{}, `T: argument "when" is 4294967296, out of range (0 to 4294967295)`},
		{`{"path":"p","when":-1}`, typedOp{}, `T: argument "when" is -1, out of range (0 to 4294967295)`},
		{`{"needed":1,"path":"p","note":"hi"}`, typedOp{Flag: true, Note: "hi", HasNote: true, RequiredPath: "p"}, ""},
		{`{"needed":1,"path":"p","note":"\udcff"}`, typedOp{Flag: true, Note: "\xff", HasNote: true, RequiredPath: "p"}, ""},
		{`{"needed":1,"path":"p","note":null}`, typedOp{Flag: true, RequiredPath: "p"}, ""},
		{`{"path":"p","note":""}`, typedOp{}, `T: argument "note" must not be empty`},
		{`{"path":"p","note":7}`, typedOp{}, `T: argument "note" must be a string`},
		// The first problem, in the order the decoder asks, is the one
		// reported.
		{`{"flag":3}`, typedOp{}, `T: missing argument "path"`},
		{`{"path":"p","flag":3,"n":9}`, typedOp{}, `T: argument "flag" must be true or false`},
		{`{}`, typedOp{}, `T: missing argument "path"`},
		{`{"path":"p","flag":true,"n":1,"mode":1,"when":1,"note":"x","needed":1,"extra":1}`, typedOp{}, `T: unknown argument "extra"`},
	}
	for _, tc := range tests {
		in := `{"command":"T","args":` + tc.args + `}`
		req, err := decodeRequest([]byte(in), typedCommands)
		var br *BadRequest
		switch {
		case errors.As(err, &br):
			if br.Reason != tc.bad {
				t.Errorf("%s: refused with %q, want %q", in, br.Reason, tc.bad)
			}
		case err != nil:
			t.Errorf("%s: %v", in, err)
		case tc.bad != "":
			t.Errorf("%s: accepted as %+v, want refused with %q", in, req.Op, tc.bad)
		default:
			if diff := cmp.Diff(tc.want, req.Op.(typedOp)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", in, diff)
			}
		}
	}
}
