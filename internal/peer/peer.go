// Package peer tells who is at the other end of a loopback TCP connection:
// the stdio mode's one-time link page serves only processes of the same OS
// user as keyward. On Linux the kernel's socket tables (/proc/net/tcp and
// tcp6) name the owner (uid) of every socket, the connecting one included;
// elsewhere keyward cannot tell, and refuses to serve links.
package peer

import "errors"

// ErrUnsupported: this system gives keyward no way to tell who connects.
var ErrUnsupported = errors.New("this system does not let keyward check which user a loopback connection comes from (only Linux does)")
