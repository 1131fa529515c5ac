package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/uuid"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
)

// A user holds at most five Qlik sessions, so login keeps the session it received, one
// file per bridge and virtual proxy, and reuses it while it is alive. Runs that use the
// same file take turns through a lock file beside it, so that runs started together add
// one session, not one each.

// sessionCache is the file that keeps the session of one bridge and virtual proxy.
type sessionCache struct {
	dir, path, bridge string
}

// cachedSession is the cache file's content.
type cachedSession struct {
	Bridge  string                `json:"bridge"`
	Session *bridge.ScriptSession `json:"session"`
}

// errOtherBridge means a cache file keeps the session of another bridge.
var errOtherBridge = errors.New("the file keeps a session of another bridge")

// cacheDir is qlik-oidc-bridge in the user's configuration directory.
func cacheDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory to keep the session in: %w", err)
	}
	return filepath.Join(dir, "qlik-oidc-bridge"), nil
}

func openCache(bridgeURL, prefix string) (*sessionCache, error) {
	dir, err := cacheDir()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(bridgeURL + "\n" + prefix))
	name := "session-" + hex.EncodeToString(sum[:12]) + ".json"
	return &sessionCache{dir: dir, path: filepath.Join(dir, name), bridge: bridgeURL}, nil
}

// read returns the kept session: nil when there is none, and an error when the file is
// there but cannot be used.
func (c *sessionCache) read() (*bridge.ScriptSession, error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cs cachedSession
	if err := json.Unmarshal(b, &cs); err != nil {
		return nil, fmt.Errorf("it is not the expected JSON: %w", err)
	}
	switch {
	case cs.Bridge != c.bridge:
		return nil, errOtherBridge
	case cs.Session == nil || uuid.Validate(cs.Session.CookieValue) != nil:
		return nil, errors.New("it holds no valid session id")
	}
	return cs.Session, nil
}

// reuse returns the kept session of the virtual proxy prefix when the bridge says it is
// alive, with a new expiry estimate. A dead session is forgot; an entry that cannot be
// used (damaged, of another virtual proxy, refused by the bridge as malformed) is
// dropped with a line on stderr, so that a fresh sign-in replaces it.
func (c *sessionCache) reuse(ctx context.Context, cli *bridge.ScriptClient, prefix string,
	stderr io.Writer) (*bridge.ScriptSession, error) {
	s, err := c.read()
	if err == nil && s != nil && s.Proxy != prefix {
		err = fmt.Errorf("it holds a session of the virtual proxy %q", s.Proxy)
	}
	if err != nil {
		c.drop(stderr, err)
		return nil, nil
	}
	if s == nil {
		return nil, nil
	}
	alive, expires, err := cli.Check(ctx, s)
	var se *bridge.ScriptError
	if errors.As(err, &se) && (se.Code == bridge.ScriptErrInvalidRequest ||
		se.Code == bridge.ScriptErrUnknownProxy) {
		c.drop(stderr, fmt.Errorf("the bridge says: %s", se.Description))
		return nil, nil
	}
	if err != nil {
		return nil, scriptExit(err)
	}
	if !alive {
		c.remove()
		return nil, nil
	}
	s.Expires = expires
	_ = c.save(s)
	return s, nil
}

// drop removes a cache file that cannot be used and says so.
func (c *sessionCache) drop(stderr io.Writer, why error) {
	fmt.Fprintf(stderr, "The session kept in %s cannot be used (%v); signing in afresh.\n",
		c.path, why)
	c.remove()
}

// makeDir makes the cache directory, which only the user can enter.
func (c *sessionCache) makeDir() error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(c.dir, 0o700); err != nil && runtime.GOOS != "windows" {
		return err
	}
	return nil
}

// save keeps s, in a file only the user can read, in a directory only they can enter.
func (c *sessionCache) save(s *bridge.ScriptSession) error {
	if err := c.makeDir(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cachedSession{Bridge: c.bridge, Session: s}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.dir, ".session-*") // created with mode 0600
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

func (c *sessionCache) remove() { os.Remove(c.path) }

// cachedSessions returns the caches that hold a usable session of bridgeURL, of prefix
// only when onlyPrefix is set.
func cachedSessions(bridgeURL, prefix string, onlyPrefix bool) ([]*sessionCache, error) {
	dir, err := cacheDir()
	if err != nil {
		return nil, err
	}
	names, _ := filepath.Glob(filepath.Join(dir, "session-*.json"))
	var list []*sessionCache
	for _, name := range names {
		c := &sessionCache{dir: dir, path: name, bridge: bridgeURL}
		if s, err := c.read(); err == nil && s != nil && (!onlyPrefix || s.Proxy == prefix) {
			list = append(list, c)
		}
	}
	return list, nil
}

// A lock file that is not renewed for lockStale was left behind by a run that ended
// without removing it (killed, or its computer stopped); its holder renews it every
// lockRenew. A waiting run looks again every lockPoll.
const (
	lockStale = 10 * time.Minute
	lockRenew = time.Minute
	lockPoll  = 200 * time.Millisecond
)

// cacheLock is the lock file of a cache, held by this run.
type cacheLock struct {
	path, token string
	stop, done  chan struct{}
}

// lock makes this run the only one to use the cache until release: it creates the lock
// file beside the cache file with O_CREATE|O_EXCL, which every system (Windows too) does
// at once or not at all, and waits, until ctx ends, while another run holds it. When the
// lock file cannot be made at all, the run goes on without it, after a warning.
//
// Two runs that find the same stale lock at the same moment may both go on; at worst
// that adds one session.
func (c *sessionCache) lock(ctx context.Context, stderr io.Writer) (*cacheLock, error) {
	l := &cacheLock{path: c.path + ".lock", token: randomState()}
	err := c.makeDir()
	told := false
	for err == nil {
		if err = l.create(); !errors.Is(err, fs.ErrExist) {
			break
		}
		err = nil
		if fi, serr := os.Stat(l.path); serr == nil && time.Since(fi.ModTime()) > lockStale {
			fmt.Fprintf(stderr, "Taking over %s, left behind by a run that ended\n", l.path)
			os.Remove(l.path)
			continue
		}
		if !told {
			fmt.Fprintln(stderr, "Another qlik-oidc-bridge login for this bridge and virtual "+
				"proxy is running; waiting for it to finish...")
			told = true
		}
		if sleep(ctx, lockPoll) != nil {
			return nil, lockWaitEnded(ctx, l.path)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "warning: runs of this command are not kept apart: %v\n", err)
		return nil, nil
	}
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.renew()
	return l, nil
}

// create makes the lock file, holding this run's token, or fails with fs.ErrExist.
func (l *cacheLock) create() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(l.token)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(l.path)
	}
	return err
}

// lockWaitEnded explains why waiting for another run stopped.
func lockWaitEnded(ctx context.Context, path string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return exitf(exitExpired, "login: another run of qlik-oidc-bridge login held %s "+
			"for the time allowed (--timeout); if none is running, delete that file", path)
	}
	return fmt.Errorf("login: stopped: %w", ctx.Err())
}

// renew keeps the lock file fresh until release.
func (l *cacheLock) renew() {
	defer close(l.done)
	t := time.NewTicker(lockRenew)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			_ = os.Chtimes(l.path, now, now)
		}
	}
}

// release removes the lock file if it is still this run's. A nil lock releases nothing.
func (l *cacheLock) release() {
	if l == nil {
		return
	}
	close(l.stop)
	<-l.done
	if b, err := os.ReadFile(l.path); err == nil && string(b) == l.token {
		os.Remove(l.path)
	}
}
