package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// copyBuf builds a COPY stream in PostgreSQL's binary format: a header,
// then per row its field count and each field as a length and its bytes,
// then a trailer. Used where the rows are many and their types few (the
// audit log): pgx's CopyFrom encodes every value through its type map,
// which cost more than building the audit event did.
type copyBuf struct{ b []byte }

// copyBufs keeps the buffers of past streams for the next ones (the audit
// writer builds two per batch, every batch), up to maxPooledCopyBuf each
// (a batch of 2,000 server-built events copies about 1.2 MB).
var copyBufs sync.Pool

const maxPooledCopyBuf = 4 << 20

func newCopyBuf(size int) *copyBuf {
	var b []byte
	if c, ok := copyBufs.Get().(*copyBuf); ok && cap(c.b) >= size {
		b = c.b[:0]
	} else {
		b = make([]byte, 0, size)
	}
	b = append(b, "PGCOPY\n\xff\r\n\x00"...)
	b = binary.BigEndian.AppendUint32(b, 0) // flags
	b = binary.BigEndian.AppendUint32(b, 0) // header extension length
	return &copyBuf{b: b}
}

// row starts a row of n fields.
func (c *copyBuf) row(n int) { c.b = binary.BigEndian.AppendUint16(c.b, uint16(n)) }

// int8 appends a bigint field.
func (c *copyBuf) int8(v int64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

// int4 appends an integer field.
func (c *copyBuf) int4(v int32) {
	c.b = binary.BigEndian.AppendUint32(c.b, 4)
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(v))
}

// text appends a text field (PostgreSQL checks its encoding).
func (c *copyBuf) text(s string) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(s)))
	c.b = append(c.b, s...)
}

// null appends a null field.
func (c *copyBuf) null() { c.b = binary.BigEndian.AppendUint32(c.b, 0xffffffff) }

// bytea appends a bytea field.
func (c *copyBuf) bytea(v []byte) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(v)))
	c.b = append(c.b, v...)
}

// bytes ends the stream and returns it.
func (c *copyBuf) bytes() []byte { return binary.BigEndian.AppendUint16(c.b, 0xffff) }

// copyBinary copies the stream c into table's columns through the
// connection of the transaction tx, and gives c's buffer back for reuse.
// table and columns are the package's own constants, never input.
func copyBinary(ctx context.Context, tx pgx.Tx, table string, columns []string, c *copyBuf) error {
	_, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(c.bytes()),
		"COPY "+table+" ("+strings.Join(columns, ", ")+") FROM STDIN (FORMAT binary)")
	if cap(c.b) <= maxPooledCopyBuf {
		copyBufs.Put(c)
	}
	return err
}

// int8Array appends a one-dimensional bigint[] field without nulls: the
// array header (dimensions, null flag, element type int8, length, lower
// bound 1), then each element as a length and its bytes.
func (c *copyBuf) int8Array(vs []int64) {
	const int8OID = 20
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(20+12*len(vs)))
	c.b = binary.BigEndian.AppendUint32(c.b, 1) // dimensions
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // no nulls
	c.b = binary.BigEndian.AppendUint32(c.b, int8OID)
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(vs)))
	c.b = binary.BigEndian.AppendUint32(c.b, 1) // lower bound
	for _, v := range vs {
		c.b = binary.BigEndian.AppendUint32(c.b, 8)
		c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
	}
}
