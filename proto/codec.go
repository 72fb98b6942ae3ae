package proto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
)

// Codec reads requests and writes responses in one framing.
//
// ReadRequest and WriteResponse may be called from different goroutines,
// but neither may be called concurrently with itself.
type Codec interface {
	// ReadRequest returns the next request. Its errors are:
	//   - *BadRequest for a request that could never succeed; the stream
	//     goes on and the next call reads the next request;
	//   - an error wrapping ErrStreamBroken when the input cannot be split
	//     into requests any more (impossible binary length, frame cut short,
	//     read error); later calls return the same error;
	//   - io.EOF, unwrapped, when the input ends cleanly between requests.
	ReadRequest() (*Request, error)
	// WriteResponse writes one response in the framing of the requests and
	// flushes it: if the writer has a Flush() error method, it is called.
	// In auto mode, before the framing is known, it writes text.
	// It refuses a response with an unknown Status or whose Data cannot be
	// encoded as JSON, writing nothing.
	WriteResponse(*Response) error
	// Ready reports whether the next ReadRequest would return without
	// reading from the input: a whole request is already buffered, or
	// the stream has broken. False when in doubt.
	Ready() bool
}

// readBufSize is the size of the read buffer. Requests up to this size are
// read without copying; larger ones are copied once into a second buffer.
const readBufSize = 64 << 10

// keepBufSize is the largest buffer kept between requests or responses;
// one big message should not pin its memory for the life of the process.
const keepBufSize = 1 << 20

// NewCodec returns a Codec reading requests for the commands cmds from r
// and writing responses to w, in framing f. A request naming a command
// that is not in cmds is a *BadRequest. NewCodec panics if f is not one of
// the Framing constants or a name in cmds is not canonical (ASCII upper
// case, non-empty). The Codec does not change cmds; the caller must not
// either.
func NewCodec(r io.Reader, w io.Writer, f Framing, cmds Commands) Codec {
	if f != FramingAuto && f != FramingText && f != FramingBinary {
		panic(fmt.Sprintf("proto.NewCodec: invalid framing %d", int(f)))
	}
	for name := range cmds {
		if name == "" || asciiUpper([]byte(name)) != name {
			panic(fmt.Sprintf("proto.NewCodec: command name %q is not upper case", name))
		}
	}
	c := &codec{
		r:    bufio.NewReaderSize(r, readBufSize),
		w:    w,
		auto: f == FramingAuto,
		cmds: cmds,
	}
	c.framing.Store(int32(f))
	c.enc = json.NewEncoder(&c.out)
	c.enc.SetEscapeHTML(false)
	return c
}

type codec struct {
	// framing is FramingAuto until the first byte is read; shared by the
	// reading and the writing side.
	framing atomic.Int32

	// Reading side.
	r       *bufio.Reader
	auto    bool     // framing was FramingAuto in NewCodec
	cmds    Commands // what requests may ask for
	header  bool     // a frame header has been read
	big     []byte   // holds a request that does not fit in r's buffer
	blocks  [][]byte // hold a text line that does not fit in r's buffer
	discard int      // bytes of r still to skip, once the peeked frame is decoded
	broken  error    // the ErrStreamBroken error, returned again by every later call

	// Writing side.
	w   io.Writer
	out bytes.Buffer
	enc *json.Encoder // encodes into out
}

func (c *codec) ReadRequest() (*Request, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	req, err := c.readRequest()
	if errors.Is(err, ErrStreamBroken) {
		c.broken = err
	}
	return req, err
}

func (c *codec) readRequest() (*Request, error) {
	f := Framing(c.framing.Load())
	if f == FramingAuto {
		b, err := c.r.Peek(1)
		if err != nil {
			return nil, c.readError(err)
		}
		switch b[0] {
		case '{', ' ', '\t', '\r', '\n':
			f = FramingText
		default:
			f = FramingBinary
		}
		c.framing.Store(int32(f))
	}

	var payload []byte
	var req *Request
	var err error
	if f == FramingText {
		payload, err = c.readLine()
	} else {
		payload, err = c.readFrame()
	}
	if err == nil {
		req, err = decodeRequest(payload, c.cmds)
	}
	if c.discard > 0 {
		c.r.Discard(c.discard) // cannot fail: the bytes were peeked
		c.discard = 0
	}
	if cap(c.big) > keepBufSize {
		c.big = nil
	}
	if len(c.blocks) > 1 { // keep the first, which is not over keepBufSize
		clear(c.blocks[1:])
		c.blocks = c.blocks[:1]
	}
	return req, err
}

func (c *codec) Ready() bool {
	if c.broken != nil {
		return true
	}
	b, _ := c.r.Peek(c.r.Buffered())
	switch Framing(c.framing.Load()) {
	case FramingText:
		// A line with something on it (blank lines are skipped).
		for {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return false
			}
			if len(bytes.Trim(b[:i], " \t\r")) > 0 {
				return true
			}
			b = b[i+1:]
		}
	case FramingBinary:
		return len(b) >= 4 && uint64(len(b)) >= 4+uint64(binary.BigEndian.Uint32(b))
	}
	return false
}

// readError turns an error from r into what ReadRequest returns.
func (c *codec) readError(err error) error {
	if err == io.EOF {
		return io.EOF
	}
	return fmt.Errorf("%w: reading requests: %w", ErrStreamBroken, err)
}

// readLine returns the next line that is not blank, without its line
// ending. The result is valid until the next read from c.r.
func (c *codec) readLine() ([]byte, error) {
	for {
		line, err := c.readRawLine()
		if err != nil {
			return nil, err
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > MaxFrame {
			return nil, &BadRequest{Reason: tooLong}
		}
		if len(bytes.Trim(line, " \t\r\n")) > 0 {
			return line, nil
		}
	}
}

var tooLong = fmt.Sprintf("line longer than %d bytes", MaxFrame)

// readRawLine returns the next line without its LF, or a *BadRequest if it
// is certainly longer than MaxFrame, having skipped it without keeping it.
func (c *codec) readRawLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	switch err {
	case nil:
		return line[:len(line)-1], nil // the common case: no copy at all
	case io.EOF:
		if len(line) == 0 {
			return nil, io.EOF
		}
		return line, nil
	case bufio.ErrBufferFull:
	default:
		return nil, c.readError(err)
	}

	// The line is longer than r's buffer: gather it, up to the longest a
	// valid line can be (MaxFrame, plus CR and LF). It is gathered in
	// blocks rather than in one buffer grown by doubling, so that a line
	// that turns out too long has cost its first MaxFrame bytes once (they
	// could have been a valid request), not about twice that.
	const limit = MaxFrame + 2
	n, used := 0, 0 // bytes gathered, blocks holding them
	for {
		if n+len(line) > limit {
			break
		}
		for p := line; len(p) > 0; {
			if used == 0 || len(c.blocks[used-1]) == cap(c.blocks[used-1]) {
				if used == len(c.blocks) {
					c.blocks = append(c.blocks, make([]byte, 0, min(blockSize, limit-n)))
				}
				c.blocks[used] = c.blocks[used][:0]
				used++
			}
			b := &c.blocks[used-1]
			k := min(len(p), cap(*b)-len(*b))
			*b = append(*b, p[:k]...)
			p = p[k:]
			n += k
		}
		switch err {
		case nil, io.EOF:
			return c.joinBlocks(used, n, err == nil), nil
		case bufio.ErrBufferFull:
		default:
			return nil, c.readError(err)
		}
		line, err = c.r.ReadSlice('\n')
	}
	// Too long: skip to the end of the line without keeping any more of it.
	for err == bufio.ErrBufferFull {
		_, err = c.r.ReadSlice('\n')
	}
	if err != nil && err != io.EOF {
		return nil, c.readError(err)
	}
	return nil, &BadRequest{Reason: tooLong}
}

// blockSize is the size of the blocks a long text line is gathered in.
const blockSize = 1 << 20

// joinBlocks returns the n bytes in the first used blocks as one slice,
// less the final LF if lf, copying them only if there is more than one block.
func (c *codec) joinBlocks(used, n int, lf bool) []byte {
	line := c.blocks[0]
	if used > 1 {
		line = make([]byte, 0, n)
		for _, b := range c.blocks[:used] {
			line = append(line, b...)
		}
		c.big = line        // dropped after decoding, as it is over keepBufSize
		clear(c.blocks[1:]) // and the blocks at once, before decoding
		c.blocks = c.blocks[:1]
	}
	if lf {
		line = line[:len(line)-1]
	}
	return line
}

// readFrame returns the payload of the next binary frame. The result is
// valid until the next read from c.r.
func (c *codec) readFrame() ([]byte, error) {
	var hdr [4]byte
	n, err := io.ReadFull(c.r, hdr[:])
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err == io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("%w: input ends inside a frame header (%d of 4 bytes)", ErrStreamBroken, n)
	case err != nil:
		return nil, c.readError(err)
	}
	first := !c.header
	c.header = true

	size := binary.BigEndian.Uint32(hdr[:])
	if size == 0 {
		return nil, &BadRequest{Reason: "empty frame"}
	}
	if size > MaxFrame {
		hint := ""
		if first && c.auto {
			hint = fmt.Sprintf(" (binary framing was chosen from the first byte, 0x%02x; text input must start with '{' or white space)", hdr[0])
		}
		return nil, fmt.Errorf("%w: frame length %d is over the maximum %d%s", ErrStreamBroken, size, MaxFrame, hint)
	}

	if int(size) <= c.r.Size() {
		// Decode straight from r's buffer; skip the bytes after decoding.
		p, err := c.r.Peek(int(size))
		if err != nil {
			return nil, c.frameError(len(p), size, err)
		}
		c.discard = int(size)
		return p, nil
	}
	if cap(c.big) < int(size) {
		c.big = make([]byte, size)
	}
	c.big = c.big[:size]
	n, err = io.ReadFull(c.r, c.big)
	if err != nil {
		return nil, c.frameError(n, size, err)
	}
	return c.big, nil
}

func (c *codec) frameError(got int, size uint32, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: input ends inside a frame (%d of %d bytes)", ErrStreamBroken, got, size)
	}
	return c.readError(err)
}

func (c *codec) WriteResponse(resp *Response) error {
	if resp == nil {
		return errors.New("proto: nil response")
	}
	switch resp.Status {
	case StatusOK, StatusError, StatusFail, StatusProgress:
	default:
		return fmt.Errorf("proto: invalid response status %q", resp.Status)
	}
	binaryFraming := Framing(c.framing.Load()) == FramingBinary

	c.out.Reset()
	if binaryFraming {
		c.out.Write([]byte{0, 0, 0, 0}) // the length, filled in below
	}
	if err := c.enc.Encode(resp); err != nil {
		return fmt.Errorf("proto: encoding response: %w", err)
	}
	frame := c.out.Bytes() // Encode ends it with "\n", the text framing
	if binaryFraming {
		frame = frame[:len(frame)-1]
		size := len(frame) - 4
		if uint64(size) > math.MaxUint32 {
			return fmt.Errorf("proto: response of %d bytes is too long for a binary frame", size)
		}
		binary.BigEndian.PutUint32(frame, uint32(size))
	}
	_, err := c.w.Write(frame)
	if c.out.Cap() > keepBufSize {
		c.out = bytes.Buffer{} // enc holds &c.out, which stays valid
	}
	if err != nil {
		return fmt.Errorf("proto: writing response: %w", err)
	}
	if f, ok := c.w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return fmt.Errorf("proto: writing response: %w", err)
		}
	}
	return nil
}
