package pgtest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPUSnapshot is the CPU time (user and system, in clock ticks) of each
// process named postgres that this machine's /proc shows, by process id:
// the database's share when it runs here, as it does in the benchmarks'
// set-up. Empty without /proc.
type CPUSnapshot map[string]int64

// CPU takes a CPUSnapshot.
func CPU() CPUSnapshot {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	ticks := CPUSnapshot{}
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil || !bytes.Contains(stat, []byte("(postgres)")) {
			continue
		}
		ticks[d.Name()] = statTicks(stat)
	}
	return ticks
}

// Since is the CPU time the postgres processes used since the snapshot:
// of each process now running, what it used since then, or all it used if
// it started since. A process that ended in between counts for nothing
// (its time is gone from /proc); summing totals instead counted it against
// the interval, as when a connection that ran ANALYZE closed during it.
func (before CPUSnapshot) Since() time.Duration {
	var ticks int64
	for pid, t := range CPU() {
		if t0, ok := before[pid]; ok && t0 <= t {
			t -= t0
		}
		ticks += t
	}
	return TicksToDuration(ticks)
}

// statTicks is utime + stime of a /proc/<pid>/stat line: fields 14 and 15,
// counted after the parenthesised command name.
func statTicks(stat []byte) int64 {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// TicksToDuration converts clock ticks of /proc (USER_HZ, 100 on Linux).
func TicksToDuration(ticks int64) time.Duration { return time.Duration(ticks) * 10 * time.Millisecond }
