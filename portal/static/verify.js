// The verify page's in-browser check (portal/templates/verify.html, served under script-src 'self').
//
// It trusts nothing the server computed: it hashes the entry bytes as a leaf, folds the inclusion
// proof up to a root (RFC 9162 §2.1.3.2), compares that root with the one in the signed checkpoint,
// and, where the browser has WebCrypto Ed25519, checks the checkpoint's signed-note signature with
// the published key. The page works without it; this only adds the result line.
"use strict";

(function () {
  const box = document.getElementById("proof-check");
  const out = document.getElementById("proof-result");
  if (!box || !out) return;
  if (!window.crypto || !window.crypto.subtle) {
    out.textContent = "This browser cannot compute SHA-256 here (WebCrypto needs HTTPS); use the commands below.";
    return;
  }
  const subtle = window.crypto.subtle;

  function fromHex(text) {
    if (!/^(?:[0-9a-f]{2})*$/.test(text)) throw new Error("not hex: " + text.slice(0, 20));
    const bytes = new Uint8Array(text.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.substr(2 * i, 2), 16);
    return bytes;
  }
  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function fromBase64(text) {
    const raw = atob(text);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }
  function concat(parts) {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const joined = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { joined.set(p, at); at += p.length; }
    return joined;
  }
  async function sha256(...parts) {
    return new Uint8Array(await subtle.digest("SHA-256", concat(parts)));
  }
  const leafHash = (entry) => sha256(Uint8Array.of(0), entry);
  const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  // Plain arithmetic instead of bit operators: JavaScript's are 32-bit and a log can be larger.
  const odd = (n) => n % 2 === 1;
  const half = (n) => Math.floor(n / 2);

  // RFC 9162 §2.1.3.2: the root that `leaf` at `index` and `proof` lead to in a tree of `size`.
  async function rootFromInclusion(index, size, leaf, proof) {
    if (!(index >= 0 && index < size)) throw new Error("index outside the tree");
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new Error("the proof is too long");
      if (odd(fn) || fn === sn) {
        r = await nodeHash(p, r);
        while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = half(fn); sn = half(sn);
    }
    if (sn !== 0) throw new Error("the proof is too short");
    return r;
  }

  // C2SP signed-note: true / false, or null when the browser has no Ed25519.
  async function checkSignature(note, vkey) {
    // name+hash+base64: the base64 key may itself contain "+", so split at the first two only.
    const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
    if (first < 0 || second < 0) return false;
    const name = vkey.slice(0, first), hashHex = vkey.slice(first + 1, second), keyB64 = vkey.slice(second + 1);
    const raw = fromBase64(keyB64 || "");
    if (raw.length !== 33 || raw[0] !== 1) return false;
    const pub = raw.slice(1);
    const keyId = (await sha256(new TextEncoder().encode(name + "\n"), Uint8Array.of(1), pub)).slice(0, 4);
    if (toHex(keyId) !== hashHex) return false;
    const split = note.lastIndexOf("\n\n");
    if (split < 0) return false;
    const text = new TextEncoder().encode(note.slice(0, split + 1));
    let key;
    try {
      key = await subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    } catch (err) {
      return null;
    }
    for (const line of note.slice(split + 2).split("\n")) {
      const match = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const blob = fromBase64(match[2]);
      if (blob.length !== 68 || toHex(blob.slice(0, 4)) !== hashHex) continue;
      if (await subtle.verify({ name: "Ed25519" }, key, blob.slice(4), text)) return true;
    }
    return false;
  }

  function show(ok, message) {
    out.textContent = message;
    out.classList.add(ok ? "proof-ok" : "proof-bad");
  }

  async function run() {
    const d = box.dataset;
    const entry = fromHex(d.entry);
    const leaf = await leafHash(entry);
    if (toHex(leaf) !== d.leaf) return show(false, "FAILED: the entry does not hash to the leaf hash shown.");
    const proof = d.proof ? d.proof.split(",").map(fromHex) : [];
    const root = await rootFromInclusion(Number(d.index), Number(d.size), leaf, proof);
    if (!d.root || !same(root, fromHex(d.root))) {
      return show(false, "FAILED: the proof does not lead to the signed checkpoint's root.");
    }
    const steps = "Your browser hashed the entry, folded the " + proof.length +
      " proof hashes and reached the root signed in the checkpoint";
    const signed = d.checkpoint && d.key ? await checkSignature(d.checkpoint, d.key) : false;
    if (signed === false) return show(false, "FAILED: the checkpoint's signature does not verify with the key shown.");
    if (signed === null) {
      return show(true, steps + ". (This browser cannot check Ed25519 signatures; check the checkpoint with the Go command below.)");
    }
    show(true, steps + ", and the checkpoint's Ed25519 signature verifies with the key shown: entry #" +
      d.index + " is in the log.");
  }

  out.textContent = "Checking…";
  run().catch((err) => show(false, "FAILED: " + err.message));
})();
