//go:build unix

package safefile

import "syscall"

// openFlags: opening a FIFO for reading must not wait for a writer.
const openFlags = syscall.O_NONBLOCK
