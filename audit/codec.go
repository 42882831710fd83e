package audit

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// AppendBinary appends r in a compact binary form for local spooling:
// uvarint-length-prefixed strings, the time as Unix seconds and nanoseconds, and a flag
// for a nil InstanceID. It is not a storage format: it may change between
// versions, and is only read back by the same process.
func AppendBinary(b []byte, r *Record) []byte {
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(r.UUID)
	b = binary.AppendVarint(b, r.Time.Unix())
	b = binary.AppendUvarint(b, uint64(r.Time.Nanosecond()))
	str(r.Category)
	str(r.User)
	str(r.Tenant)
	str(r.Account)
	str(r.Application)
	str(r.Message)
	if r.InstanceID == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		str(*r.InstanceID)
	}
	str(r.FormatVersion)
	if r.CF == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		str(r.CF.OrgID)
		str(r.CF.SpaceID)
		str(r.CF.AppOrServiceID)
		str(r.CF.ALSServiceID)
	}
	return b
}

// ErrBadSpool is wrapped by every ReadBinary decoding error.
var ErrBadSpool = errors.New("corrupt spooled record")

// ReadBinary reads one record written by AppendBinary. It returns io.EOF
// at a clean end of input.
func ReadBinary(br *bufio.Reader, r *Record) error {
	if _, err := br.Peek(1); err == io.EOF {
		return io.EOF
	}
	var err error
	str := func() string {
		if err != nil {
			return ""
		}
		var n uint64
		if n, err = binary.ReadUvarint(br); err != nil {
			return ""
		}
		if n > 1<<30 {
			err = fmt.Errorf("%w: string of %d bytes", ErrBadSpool, n)
			return ""
		}
		buf := make([]byte, n)
		if _, err = io.ReadFull(br, buf); err != nil {
			return ""
		}
		return string(buf)
	}
	r.UUID = str()
	var sec int64
	var nsec uint64
	if err == nil {
		sec, err = binary.ReadVarint(br)
	}
	if err == nil {
		nsec, err = binary.ReadUvarint(br)
	}
	if err == nil && nsec >= 1e9 {
		err = fmt.Errorf("%w: nanoseconds %d", ErrBadSpool, nsec)
	}
	r.Time = time.Unix(sec, int64(nsec)).UTC()
	r.Category, r.User, r.Tenant, r.Account, r.Application, r.Message = str(), str(), str(), str(), str(), str()
	r.InstanceID = nil
	if err == nil {
		var flag byte
		if flag, err = br.ReadByte(); err == nil && flag == 1 {
			id := str()
			r.InstanceID = &id
		} else if err == nil && flag != 0 {
			err = fmt.Errorf("%w: instance id flag %d", ErrBadSpool, flag)
		}
	}
	r.FormatVersion = str()
	r.CF = nil
	if err == nil {
		var flag byte
		if flag, err = br.ReadByte(); err == nil && flag == 1 {
			r.CF = &CFFields{OrgID: str(), SpaceID: str(), AppOrServiceID: str(), ALSServiceID: str()}
		} else if err == nil && flag != 0 {
			err = fmt.Errorf("%w: cf flag %d", ErrBadSpool, flag)
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: %w", ErrBadSpool, err)
	}
	return nil
}
