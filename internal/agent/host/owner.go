package host

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Owner gives a file or folder to the service account, so that only it (and root or
// Administrators) can read it: the endpoint's private key, the state folder.
type Owner interface {
	Give(ctx context.Context, path string, dir bool) error
}

// LinuxOwner chowns to the sqlvault user (which `service install` creates) and keeps the
// mode owner-only.
type LinuxOwner struct{ Root Root }

func (o LinuxOwner) Give(_ context.Context, path string, dir bool) error {
	uid, gid, err := lookupUser(o.Root.Path("/etc/passwd"), ServiceUser)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o600)
	if dir {
		mode = 0o700
	}
	if err := os.Chmod(o.Root.Path(path), mode); err != nil {
		return err
	}
	return os.Chown(o.Root.Path(path), uid, gid)
}

func lookupUser(passwd, name string) (uid, gid int, err error) {
	f, err := os.Open(passwd)
	if err != nil {
		return 0, 0, fmt.Errorf("look up the user %s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 4 && fields[0] == name {
			uid, err1 := strconv.Atoi(fields[2])
			gid, err2 := strconv.Atoi(fields[3])
			if err1 != nil || err2 != nil {
				return 0, 0, fmt.Errorf("look up the user %s: bad line in %s", name, passwd)
			}
			return uid, gid, nil
		}
	}
	return 0, 0, fmt.Errorf("the user %s does not exist: run `sqlvault-worker service install` first", name)
}

// WindowsOwner sets an ACL with icacls: no inherited entries; full control for the
// service's virtual account, Administrators (S-1-5-32-544) and SYSTEM (S-1-5-18) only.
type WindowsOwner struct{ Runner Runner }

func (o WindowsOwner) Give(ctx context.Context, path string, dir bool) error {
	inherit := ""
	if dir {
		inherit = "(OI)(CI)"
	}
	_, err := o.Runner.Run(ctx, "icacls", path, "/inheritance:r", "/grant:r",
		"*S-1-5-32-544:"+inherit+"F", "*S-1-5-18:"+inherit+"F", WindowsServiceAccount+":"+inherit+"F")
	return err
}
