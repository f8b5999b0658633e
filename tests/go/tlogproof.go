// The tlog-proof subcommand: check one C2SP tlog-proof (https://c2sp.org/tlog-proof) with Go's
// sumdb code, independently of the Python that wrote it.
//
//	ledgerverify tlog-proof -key KEY [-origin O] [-raw FILE|URL] PROOF_FILE|URL
//
// It opens the checkpoint with golang.org/x/mod/sumdb/note (KEY must have signed it; other
// signatures, such as witness cosignatures, are ignored here), hashes the entry carried on the
// proof's `extra` line as a leaf (tlog.RecordHash: SHA-256(0x00 || entry)) and checks the inclusion
// proof with tlog.CheckRecord. With -raw, the bytes must hash (SHA-256) to the content_sha256 the
// capture entry names. Exits non-zero on any failure.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tlogProofHeader = "c2sp.org/tlog-proof@v1"

type tlogProof struct {
	extra      []byte
	index      int64
	hashes     []tlog.Hash
	checkpoint []byte
}

// parseTlogProof follows the spec's line grammar: header, optional extra, index, hashes, an empty
// line, then the checkpoint verbatim.
func parseTlogProof(data []byte) (tlogProof, error) {
	var p tlogProof
	head, cp, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return p, errors.New("tlog-proof: no empty line before the checkpoint")
	}
	p.checkpoint = cp
	lines := strings.Split(string(head), "\n")
	if lines[0] != tlogProofHeader {
		return p, fmt.Errorf("tlog-proof: first line is %q", lines[0])
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		extra, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil {
			return p, fmt.Errorf("tlog-proof: extra: %w", err)
		}
		p.extra, lines = extra, lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return p, errors.New("tlog-proof: missing index line")
	}
	digits := strings.TrimPrefix(lines[0], "index ")
	index, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || index < 0 || strconv.FormatInt(index, 10) != digits {
		return p, fmt.Errorf("tlog-proof: bad index %q", digits)
	}
	p.index = index
	for _, line := range lines[1:] {
		h, err := tlog.ParseHash(line)
		if err != nil {
			return p, fmt.Errorf("tlog-proof: bad proof hash %q", line)
		}
		p.hashes = append(p.hashes, h)
	}
	return p, nil
}

func runTlogProof(args []string) error {
	fs := flag.NewFlagSet("tlog-proof", flag.ContinueOnError)
	key := fs.String("key", "", "trusted log verifier key name+hash+key (required)")
	origin := fs.String("origin", "", "expected log origin (default: the key's name)")
	raw := fs.String("raw", "", "file or URL of the record version's raw bytes, re-hashed against the entry")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" || fs.NArg() != 1 {
		return errors.New("usage: tlog-proof -key KEY [-origin O] [-raw FILE|URL] PROOF_FILE|URL")
	}
	data, err := readSource(fs.Arg(0))
	if err != nil {
		return err
	}
	p, err := parseTlogProof(data)
	if err != nil {
		return err
	}
	nv, err := note.NewVerifier(*key)
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	cp, err := openCheckpoint(p.checkpoint, note.VerifierList(nv))
	if err != nil {
		return err
	}
	want := *origin
	if want == "" {
		want = nv.Name()
	}
	if cp.origin != want {
		return fmt.Errorf("tlog-proof checkpoint is for log %q, not %q", cp.origin, want)
	}
	if p.extra == nil {
		return errors.New("tlog-proof has no extra line: the entry is needed to compute its leaf hash")
	}
	if err := tlog.CheckRecord(p.hashes, cp.size, cp.root, p.index, tlog.RecordHash(p.extra)); err != nil {
		return fmt.Errorf("tlog-proof: inclusion of %d in %d: %w", p.index, cp.size, err)
	}
	var entry struct {
		Type          string `json:"type"`
		RecordID      string `json:"record_id"`
		Version       int64  `json:"version"`
		ContentSHA256 string `json:"content_sha256"`
	}
	if err := json.Unmarshal(p.extra, &entry); err != nil {
		return fmt.Errorf("tlog-proof entry is not JSON: %w", err)
	}
	if *raw != "" {
		body, err := readSource(*raw)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		if entry.Type != "capture" || hex.EncodeToString(sum[:]) != entry.ContentSHA256 {
			return fmt.Errorf("raw bytes hash to %x, the entry names %q", sum, entry.ContentSHA256)
		}
		fmt.Printf("ok raw sha256=%x\n", sum)
	}
	fmt.Printf("ok tlog-proof origin=%s index=%d size=%d record=%s version=%d\n",
		cp.origin, p.index, cp.size, entry.RecordID, entry.Version)
	return nil
}

func readSource(source string) ([]byte, error) {
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		return fetch(source, "")
	}
	return os.ReadFile(source)
}
