package ratelimit

import "net"

// ClientKey is the key for a client address: the IPv4 address, or the
// IPv6 /64 (the block one subscriber gets, so a client cannot escape its
// limit by changing addresses within it). Anything unparsable is its own
// key.
func ClientKey(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return ip
	}
	if v4 := parsed.To4(); v4 != nil {
		return v4.String()
	}
	return parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// RemoteIP is the host part of an http.Request's RemoteAddr.
func RemoteIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
