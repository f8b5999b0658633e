// C2SP tlog-cosignature (cosignature/v1, Ed25519) checks for ledgerverify: each -witness key must
// have cosigned the checkpoint. The verifier is written from the spec against x/mod's
// note.Verifier interface, so note.Open checks the cosignatures alongside the log's signature,
// independently of the Python implementation (archiver/ledger/cosignature.py).
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

const algCosignatureV1 = 0x04

var witnessKeys listFlag

func init() {
	flag.Var(&witnessKeys, "witness", "witness vkey (cosignature/v1, type 0x04) that must have cosigned the checkpoint (repeatable)")
}

type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v cosignatureVerifier) Name() string    { return v.name }
func (v cosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify checks timestamp(8, big-endian) || Ed25519 signature over
// "cosignature/v1\ntime <timestamp>\n" || checkpoint body.
func (v cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > math.MaxInt64 {
		return false
	}
	m := fmt.Sprintf("cosignature/v1\ntime %d\n%s", t, msg)
	return ed25519.Verify(v.key, []byte(m), sig[8:])
}

// newCosignatureVerifier parses name+hash+base64(0x04 || pubkey); hash = SHA-256(name || "\n" || 0x04 || pubkey)[:4].
func newCosignatureVerifier(vkey string) (cosignatureVerifier, error) {
	parts := strings.SplitN(strings.TrimSpace(vkey), "+", 3)
	if len(parts) != 3 {
		return cosignatureVerifier{}, fmt.Errorf("malformed witness key %q", vkey)
	}
	hash, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil || len(parts[1]) != 8 {
		return cosignatureVerifier{}, fmt.Errorf("witness key %s: bad key hash", parts[0])
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return cosignatureVerifier{}, fmt.Errorf("witness key %s: not a cosignature/v1 Ed25519 key", parts[0])
	}
	sum := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if binary.BigEndian.Uint32(sum[:4]) != uint32(hash) {
		return cosignatureVerifier{}, fmt.Errorf("witness key %s: key hash does not match the key", parts[0])
	}
	return cosignatureVerifier{name: parts[0], hash: uint32(hash), key: ed25519.PublicKey(raw[1:])}, nil
}

// checkCosignatures opens the checkpoint with the log's key and every -witness key; each witness
// must have a cosignature that verifies (note.Open rejects a bad one by a known key outright).
func checkCosignatures(msg []byte, log note.Verifier) error {
	if len(witnessKeys) == 0 {
		return nil
	}
	verifiers := []note.Verifier{log}
	for _, k := range witnessKeys {
		v, err := newCosignatureVerifier(k)
		if err != nil {
			return err
		}
		verifiers = append(verifiers, v)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		return fmt.Errorf("cosigned checkpoint: %w", err)
	}
	for _, v := range verifiers[1:] {
		found := false
		for _, s := range n.Sigs {
			found = found || (s.Name == v.Name() && s.Hash == v.KeyHash())
		}
		if !found {
			return fmt.Errorf("checkpoint is not cosigned by witness %s", v.Name())
		}
		fmt.Printf("ok cosignature witness=%s\n", v.Name())
	}
	return nil
}
