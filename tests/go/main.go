// Command ledgerverify checks a Sunshine transparency log with Go's own sumdb code
// (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog), independently of the Python
// implementation: the checkpoint signature, inclusion and consistency proofs, and optionally the
// C2SP tiles and entry bundles themselves.
//
// Sources are a folder or a URL: -ledger holds checkpoint, key, checkpoints/<n> and tile/...;
// -api is the portal's /api/v1 (proof/inclusion, proof/consistency); -url sets both from a portal.
// It exits non-zero on any failure. `ledgerverify tlog-proof …` checks one C2SP tlog-proof (tlogproof.go).
package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type inclusionJSON struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	LeafHash string   `json:"leaf_hash"`
	Proof    []string `json:"proof"`
	Root     string   `json:"root"`
}

type consistencyJSON struct {
	Old   int64    `json:"old"`
	New   int64    `json:"new"`
	Proof []string `json:"proof"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// fetch reads name under base, a folder or an http(s) URL.
func fetch(base, name string) ([]byte, error) {
	if strings.HasPrefix(base, "http://") || strings.HasPrefix(base, "https://") {
		url := base
		if name != "" {
			url = strings.TrimRight(base, "/") + "/" + name
		}
		resp, err := http.Get(url)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	return os.ReadFile(filepath.Join(base, filepath.FromSlash(name)))
}

func hexHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("not a 32-byte hex hash: %q", s)
	}
	copy(h[:], b)
	return h, nil
}

func hexHashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(list))
	for _, s := range list {
		h, err := hexHash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// openCheckpoint verifies the signed note and parses the C2SP checkpoint body.
func openCheckpoint(msg []byte, verifiers note.Verifiers) (checkpoint, error) {
	var cp checkpoint
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return cp, fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return cp, errors.New("checkpoint: too few lines")
	}
	cp.origin = lines[0]
	if cp.size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || cp.size < 0 {
		return cp, fmt.Errorf("checkpoint: bad size %q", lines[1])
	}
	if cp.root, err = tlog.ParseHash(lines[2]); err != nil {
		return cp, fmt.Errorf("checkpoint: bad root %q", lines[2])
	}
	return cp, nil
}

// c2spPath maps Go's tile path (with the height element) to the C2SP tlog-tiles path.
func c2spPath(t tlog.Tile) string {
	p := t.Path()
	p = strings.Replace(p, "tile/8/data/", "tile/entries/", 1)
	return strings.Replace(p, "tile/8/", "tile/", 1)
}

type tileReader struct{ base string }

func (r tileReader) Height() int { return 8 }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := fetch(r.base, c2spPath(t))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

type verifier struct {
	ledger, api string
	verifiers   note.Verifiers
	cp          checkpoint
	tiles       bool
}

// rootAt is the signed root of the tree of size n: the checkpoint, or a kept one.
func (v *verifier) rootAt(n int64) (tlog.Hash, error) {
	if n == v.cp.size {
		return v.cp.root, nil
	}
	msg, err := fetch(v.ledger, "checkpoints/"+strconv.FormatInt(n, 10))
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("no signed checkpoint of size %d: %w", n, err)
	}
	cp, err := openCheckpoint(msg, v.verifiers)
	if err != nil {
		return tlog.Hash{}, err
	}
	if cp.size != n || cp.origin != v.cp.origin {
		return tlog.Hash{}, fmt.Errorf("checkpoints/%d is for %s size %d", n, cp.origin, cp.size)
	}
	return cp.root, nil
}

func (v *verifier) inclusion(p inclusionJSON) error {
	if p.Size > v.cp.size {
		return fmt.Errorf("inclusion proof for size %d is beyond the checkpoint (%d)", p.Size, v.cp.size)
	}
	root, err := v.rootAt(p.Size)
	if err != nil {
		return err
	}
	if p.Root != "" && p.Root != hex.EncodeToString(root[:]) {
		return fmt.Errorf("inclusion proof root %s is not the signed root of size %d", p.Root, p.Size)
	}
	leaf, err := hexHash(p.LeafHash)
	if err != nil {
		return err
	}
	proof, err := hexHashes(p.Proof)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(proof, p.Size, root, p.Index, leaf); err != nil {
		return fmt.Errorf("inclusion of %d in %d: %w", p.Index, p.Size, err)
	}
	if v.tiles {
		if err := v.checkEntry(p.Index, p.Size, leaf); err != nil {
			return err
		}
		r := tlog.TileHashReader(tlog.Tree{N: p.Size, Hash: root}, tileReader{v.ledger})
		ours, err := tlog.ProveRecord(p.Size, p.Index, r)
		if err != nil {
			return fmt.Errorf("proving %d in %d from tiles: %w", p.Index, p.Size, err)
		}
		if fmt.Sprint(ours) != fmt.Sprint(proof) {
			return fmt.Errorf("inclusion proof of %d differs from the one Go computes from the tiles", p.Index)
		}
	}
	fmt.Printf("ok inclusion index=%d size=%d\n", p.Index, p.Size)
	return nil
}

// checkEntry hashes the entry from its bundle and compares it with the leaf hash.
func (v *verifier) checkEntry(index, size int64, leaf tlog.Hash) error {
	n := index / 256
	w := size - n*256
	if w > 256 {
		w = 256
	}
	t := tlog.Tile{H: 8, L: -1, N: n, W: int(w)}
	data, err := fetch(v.ledger, c2spPath(t))
	if err != nil {
		return err
	}
	for i := int64(0); ; i++ {
		if len(data) < 2 {
			return fmt.Errorf("%s: entry %d missing", c2spPath(t), index)
		}
		l := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+l {
			return fmt.Errorf("%s: truncated", c2spPath(t))
		}
		if i == index%256 {
			if tlog.RecordHash(data[2:2+l]) != leaf {
				return fmt.Errorf("%s: entry %d does not hash to its leaf hash", c2spPath(t), index)
			}
			return nil
		}
		data = data[2+l:]
	}
}

func (v *verifier) consistency(p consistencyJSON) error {
	if p.New != v.cp.size {
		return fmt.Errorf("consistency proof to size %d, but the checkpoint is size %d", p.New, v.cp.size)
	}
	oldRoot, err := v.rootAt(p.Old)
	if err != nil {
		return err
	}
	proof, err := hexHashes(p.Proof)
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(proof, p.New, v.cp.root, p.Old, oldRoot); err != nil {
		return fmt.Errorf("consistency %d -> %d: %w", p.Old, p.New, err)
	}
	fmt.Printf("ok consistency old=%d new=%d\n", p.Old, p.New)
	return nil
}

func readJSON(source string, v any) error {
	var data []byte
	var err error
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		data, err = fetch(source, "")
	} else {
		data, err = os.ReadFile(source)
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func run() error {
	var inclusions, consistencies, indexes, olds listFlag
	url := flag.String("url", "", "portal base URL (sets -ledger URL/ledger and -api URL/api/v1)")
	ledger := flag.String("ledger", "", "folder or URL holding checkpoint, key, checkpoints/<n>, tile/...")
	api := flag.String("api", "", "proof API base URL (…/api/v1)")
	key := flag.String("key", "", "trusted verifier key name+hash+key (default: the ledger's own key file)")
	cpFile := flag.String("checkpoint", "", "checkpoint file (default: the ledger's checkpoint)")
	tiles := flag.Bool("tiles", false, "also check the tiles: tree hash, proofs recomputed by Go, entries")
	flag.Var(&inclusions, "inclusion", "inclusion proof JSON file (repeatable)")
	flag.Var(&consistencies, "consistency", "consistency proof JSON file (repeatable)")
	flag.Var(&indexes, "index", "fetch the inclusion proof of this index from -api (repeatable)")
	flag.Var(&olds, "old", "fetch the consistency proof from this size from -api (repeatable)")
	flag.Parse()
	if *url != "" {
		base := strings.TrimRight(*url, "/")
		*ledger, *api = base+"/ledger", base+"/api/v1"
	}
	if *ledger == "" {
		return errors.New("-ledger or -url is required")
	}
	if *key == "" {
		data, err := fetch(*ledger, "key")
		if err != nil {
			return fmt.Errorf("no -key given and the ledger key cannot be read: %w", err)
		}
		*key = strings.TrimSpace(string(data))
	}
	nv, err := note.NewVerifier(*key)
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	v := &verifier{ledger: *ledger, api: *api, verifiers: note.VerifierList(nv), tiles: *tiles}
	var msg []byte
	if *cpFile != "" {
		msg, err = os.ReadFile(*cpFile)
	} else {
		msg, err = fetch(*ledger, "checkpoint")
	}
	if err != nil {
		return err
	}
	if v.cp, err = openCheckpoint(msg, v.verifiers); err != nil {
		return err
	}
	fmt.Printf("ok checkpoint origin=%s size=%d\n", v.cp.origin, v.cp.size)
	if err := checkCosignatures(msg, nv); err != nil {
		return err
	}
	if *tiles {
		r := tlog.TileHashReader(tlog.Tree{N: v.cp.size, Hash: v.cp.root}, tileReader{*ledger})
		th, err := tlog.TreeHash(v.cp.size, r)
		if err != nil {
			return fmt.Errorf("tree hash from tiles: %w", err)
		}
		if th != v.cp.root {
			return errors.New("tiles do not hash to the checkpoint root")
		}
		fmt.Println("ok tiles hash to the checkpoint root")
	}
	for _, i := range indexes {
		inclusions = append(inclusions, strings.TrimRight(*api, "/")+"/proof/inclusion?index="+i+"&size="+strconv.FormatInt(v.cp.size, 10))
	}
	for _, m := range olds {
		consistencies = append(consistencies, strings.TrimRight(*api, "/")+"/proof/consistency?old="+m+"&new="+strconv.FormatInt(v.cp.size, 10))
	}
	for _, source := range inclusions {
		var p inclusionJSON
		if err := readJSON(source, &p); err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		if err := v.inclusion(p); err != nil {
			return err
		}
	}
	for _, source := range consistencies {
		var p consistencyJSON
		if err := readJSON(source, &p); err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		if err := v.consistency(p); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "tlog-proof" { // tlogproof.go
		if err := runTlogProof(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "ledgerverify:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ledgerverify:", err)
		os.Exit(1)
	}
}
