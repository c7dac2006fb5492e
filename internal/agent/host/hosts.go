package host

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// The markers around the lines setup adds to a hosts file. Everything between them
// belongs to sqlvault; everything outside is never touched.
const (
	hostsBegin = "# sqlvault-agent begin (added by sqlvault-worker setup; setup --undo removes it)"
	// hostsBeginJoined marks a block that was appended to a file whose last line had no
	// newline: removing the block removes the newline added before it too, so undo gives
	// back the file byte for byte.
	hostsBeginJoined = "# sqlvault-agent begin (added by sqlvault-worker setup; setup --undo removes it; newline added before)"
	hostsEnd         = "# sqlvault-agent end"
)

// Hosts file locations.
const (
	LinuxHostsFile   = "/etc/hosts"
	WindowsHostsFile = `C:\Windows\System32\drivers\etc\hosts`
)

// HostsFile edits one hosts file: a single marked block that maps names to addresses.
type HostsFile struct {
	Path string // the file (already under the root)
}

// Mapping reports the address the marked block maps name to, or "".
func (h HostsFile) Mapping(name string) (string, error) {
	b, err := os.ReadFile(h.Path)
	if err != nil {
		return "", err
	}
	_, block, _, _ := splitBlock(string(b))
	for _, line := range block {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.EqualFold(f[1], name) {
			return f[0], nil
		}
	}
	return "", nil
}

// Ensure makes the marked block map name to ip (one line), and reports whether the file
// changed. A second call with the same arguments changes nothing. The file's line ending
// (CRLF on Windows) is kept.
func (h HostsFile) Ensure(name, ip string) (bool, error) {
	if net.ParseIP(ip) == nil {
		return false, fmt.Errorf("hosts file: %q is not an IP address", ip)
	}
	if name == "" || strings.ContainsAny(name, " \t\r\n#") {
		return false, fmt.Errorf("hosts file: %q is not a host name", name)
	}
	b, err := os.ReadFile(h.Path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	text := string(b)
	nl := "\n"
	if strings.Contains(text, "\r\n") {
		nl = "\r\n"
	}
	before, _, after, found := splitBlock(text)
	begin := hostsBegin
	if found {
		// Keep the kind of begin marker the block already has: it records how the block was added.
		if strings.Contains(text, hostsBeginJoined) {
			begin = hostsBeginJoined
		}
	} else {
		before, after = text, ""
		if before != "" && !strings.HasSuffix(before, "\n") {
			before += nl
			begin = hostsBeginJoined
		}
	}
	if found && begin == hostsBeginJoined {
		before += nl // splitBlock dropped the newline the joined marker owns
	}
	block := begin + nl + ip + " " + name + nl + hostsEnd + nl
	return writeFileIfChanged(h.Path, []byte(before+block+after), 0o644)
}

// Remove deletes the marked block (and the newline it added, if any) and reports whether
// the file changed. Without a block it changes nothing.
func (h HostsFile) Remove() (bool, error) {
	b, err := os.ReadFile(h.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	before, _, after, found := splitBlock(string(b))
	if !found {
		return false, nil
	}
	return writeFileIfChanged(h.Path, []byte(before+after), 0o644)
}

// splitBlock cuts text into what comes before the marked block, the block's lines
// (without markers) and what comes after. For a joined block, the newline before the
// begin marker is removed from before.
func splitBlock(text string) (before string, block []string, after string, found bool) {
	start := -1
	joined := false
	for _, m := range []string{hostsBeginJoined, hostsBegin} {
		if i := strings.Index(text, m); i >= 0 && (i == 0 || text[i-1] == '\n') {
			start, joined = i, m == hostsBeginJoined
			break
		}
	}
	if start < 0 {
		return text, nil, "", false
	}
	rest := text[start:]
	endAt := strings.Index(rest, hostsEnd)
	if endAt < 0 {
		// A begin without an end: treat the block as running to the end of the file.
		endAt = len(rest)
	}
	end := start + endAt + len(hostsEnd)
	if end > len(text) {
		end = len(text)
	}
	if strings.HasPrefix(text[end:], "\r\n") {
		end += 2
	} else if strings.HasPrefix(text[end:], "\n") {
		end++
	}
	inner := text[start:min(start+endAt, len(text))]
	for _, line := range strings.Split(inner, "\n")[1:] {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			block = append(block, line)
		}
	}
	before = text[:start]
	if joined {
		before = strings.TrimSuffix(strings.TrimSuffix(before, "\n"), "\r")
	}
	return before, block, text[end:], true
}
