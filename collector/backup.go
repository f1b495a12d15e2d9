package collector

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulwarkhq/bulwark/collector/backup"
	"github.com/bulwarkhq/bulwark/collector/query"
	"github.com/bulwarkhq/bulwark/collector/state"
)

// backupHandler streams a backup of the running collector (admin): a TSDB
// snapshot with its head, an online copy of the state database, the state
// files and the configuration, with a manifest of checksums last. A
// failure midway leaves the archive without its manifest, which restore
// refuses.
func (a *App) backupHandler(w http.ResponseWriter, r *http.Request) {
	dataDir := a.opts.Config.DataDir
	tmp, err := os.MkdirTemp(dataDir, ".backup-")
	if err != nil {
		apiError(w, http.StatusInternalServerError, "backup: %v", err)
		return
	}
	defer os.RemoveAll(tmp)
	if err := a.store.Snapshot(filepath.Join(tmp, "tsdb"), true); err != nil {
		apiError(w, http.StatusInternalServerError, "backup: tsdb snapshot: %v", err)
		return
	}
	sqlite := a.state.Driver() == state.SQLite // PostgreSQL is backed up with its own tools
	if sqlite {
		if err := a.state.BackupTo(r.Context(), filepath.Join(tmp, "bulwark.db")); err != nil {
			apiError(w, http.StatusInternalServerError, "%v", err)
			return
		}
	}
	a.audit(r, "backup", map[string]string{"from": r.RemoteAddr})
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="bulwark-backup.tar.gz"`)
	bw := backup.NewWriter(w, query.Version, dataFormat)
	err = bw.AddDir("tsdb", filepath.Join(tmp, "tsdb"))
	if err == nil && sqlite {
		err = bw.AddFile("state/bulwark.db", filepath.Join(tmp, "bulwark.db"))
	}
	if err == nil {
		state := filepath.Join(dataDir, "state")
		err = filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), "bulwark.db") {
				return err // the database is the online copy above
			}
			rel, _ := filepath.Rel(state, p)
			return bw.AddFile("state/"+filepath.ToSlash(rel), p)
		})
	}
	if err == nil && a.opts.ConfigFile != "" {
		err = bw.AddFile("config/"+filepath.Base(a.opts.ConfigFile), a.opts.ConfigFile)
	}
	if err == nil {
		_, err = bw.Close()
	}
	if err != nil {
		a.opts.Logger.Error("backup failed midway; the client has an archive without a manifest", "err", err)
		panic(http.ErrAbortHandler) // cut the connection: a partial archive must not look whole
	}
}

// dataFormat is the data directory's format version (DATA_DIR/FORMAT).
const dataFormat = 1

// checkDataFormat writes the data directory's format version the first
// time and refuses a directory of a newer format than this binary reads.
func checkDataFormat(dir string) error {
	f := filepath.Join(dir, backup.FormatFile)
	b, err := os.ReadFile(f)
	if os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
		return os.WriteFile(f, []byte(fmt.Sprintf("%d\n", dataFormat)), 0o640)
	}
	if err != nil {
		return err
	}
	var v int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &v); err != nil {
		return fmt.Errorf("%s: not a format version: %q", f, b)
	}
	if v > dataFormat {
		return fmt.Errorf("%s: data format %d is newer than this binary's %d: run the newer version, or restore a backup", f, v, dataFormat)
	}
	return nil
}
