package peer

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Supported reports whether Owner can work here.
func Supported() error { return nil }

// Owner is the uid owning the socket whose local end is local and whose
// remote end is remote: for a connection keyward accepted, pass the peer's
// address as local and keyward's own as remote, and the answer is the uid
// of the process that connected. The connecting socket is in the same
// network namespace (it reached a loopback address), so it is listed.
func Owner(local, remote netip.AddrPort) (int, error) {
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		uid, found, err := scan(file, local, remote)
		if err != nil {
			return 0, err
		}
		if found {
			return uid, nil
		}
	}
	return 0, fmt.Errorf("no socket from %s to %s is listed in /proc/net/tcp or tcp6", local, remote)
}

func scan(file string, local, remote netip.AddrPort) (int, bool, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header line
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 {
			continue
		}
		l, okL := parseAddr(fields[1])
		r, okR := parseAddr(fields[2])
		if !okL || !okR || !same(l, local) || !same(r, remote) {
			continue
		}
		uid, err := strconv.Atoi(fields[7])
		if err != nil {
			return 0, false, fmt.Errorf("%s lists a socket with an unreadable uid %q", file, fields[7])
		}
		return uid, true, nil
	}
	return 0, false, sc.Err()
}

func same(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

// parseAddr reads the kernel's "0100007F:1F90" form: the address as
// 32-bit words in host (little-endian) byte order, the port in hex.
func parseAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(port)), true
}
