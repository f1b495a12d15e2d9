package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/playbooks/report"
)

// maxExportBytes bounds what verify reads: an export is input.
const maxExportBytes = 256 << 20

// runVerify: bulwark verify [--key FILE] FILE
func runVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "bulwark verify [--key FILE] FILE", stdout, stderr)
	keyFile := fs.String("key", "", "the collector's public key `file` (DATA_DIR/state/signing.pub) to pin; without it the export's own key is used")
	files, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return errors.New("verify: give one exported file")
	}
	f, err := os.Open(files[0])
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxExportBytes+1))
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if len(b) > maxExportBytes {
		return fmt.Errorf("verify: %s is larger than %d bytes", files[0], maxExportBytes)
	}
	var trusted ed25519.PublicKey
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if trusted, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err != nil || len(trusted) != ed25519.PublicKeySize {
			return fmt.Errorf("verify: %s is not a base64 Ed25519 public key", *keyFile)
		}
	}
	origin := "its own key (pin the collector's with --key)"
	if trusted != nil {
		origin = "the pinned key"
	}
	// An HTML or Markdown drill report ends with its signature.
	if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		if err := report.VerifyText(b, trusted); err != nil {
			return fmt.Errorf("%s: %w", files[0], err)
		}
		fmt.Fprintf(stdout, "%s: intact: a signed drill report, signed by %s\n", files[0], origin)
		return nil
	}
	x, err := audit.DecodeExport(b) // strict: a key twice anywhere is refused
	if err != nil {
		return fmt.Errorf("verify: %s is not a signed export or report: %w", files[0], err)
	}
	if err := audit.Verify(x, trusted); err != nil {
		return fmt.Errorf("%s: %w", files[0], err)
	}
	fmt.Fprintf(stdout, "%s: intact: %d entries, chained, signed %s by %s (%s)\n", files[0], len(x.Entries), x.Exported.Format("2006-01-02 15:04:05 MST"), origin, audit.Kinds()[x.Kind])
	return nil
}

// runAudit: bulwark audit export --out FILE [--collector URL] [--token-file F]
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "bulwark audit export --out FILE [--collector URL] [--token-file FILE]"
	if len(args) == 0 || args[0] != "export" {
		if len(args) > 0 {
			if _, err := verbFlags(args, "audit export", usage, stdout, stderr); err != nil {
				return err
			}
		}
		return errors.New("usage: " + usage)
	}
	fs := newFlags("audit export", usage, stdout, stderr)
	collector := fs.String("collector", "http://127.0.0.1:9400", "collector base `URL`")
	token := tokenFlag(fs)
	out := fs.String("out", "", "`file` to write the signed export to")
	if _, err := parseFlags(fs, args[1:], 0, stdout); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("audit export: --out is required")
	}
	var x audit.Export
	if err := callAPIRaw(ctx, *collector, "/api/v1/audit/export", *token, &x); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	b, err := json.MarshalIndent(&x, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d entries, signed; check it with `bulwark verify --key DATA_DIR/state/signing.pub %s`\n", *out, len(x.Entries), *out)
	return nil
}
