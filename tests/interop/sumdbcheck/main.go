// Command sumdbcheck answers questions about signed notes and RFC 6962 trees with Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, the reference implementations of
// the formats chainproof writes. The interop tests feed it chainproof's output and compare.
//
// It reads one JSON object {"tasks": [...]} from stdin and writes {"results": [...]} to stdout,
// one result per task, in order. Hashes are lowercase hex, byte strings standard base64.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type task struct {
	Op string `json:"op"`

	// open_note, sign_note, generate_key
	Vkey string `json:"vkey"`
	Skey string `json:"skey"`
	Note string `json:"note"`
	Text string `json:"text"`
	Name string `json:"name"`

	// tree: the records' data, and the roots and proofs wanted from Go's own tree of them
	Records     []string   `json:"records"`
	Sizes       []int64    `json:"sizes"`
	TilesAt     int64      `json:"tiles_at"`    // when > 0, also the C2SP tiles of the tree of this size
	Inclusion   [][2]int64 `json:"inclusion"`   // (index, tree size)
	Consistency [][2]int64 `json:"consistency"` // (old size, new size)

	// tile_proofs: the tiles a log stores, "L/N" -> base64 of the tile's base hashes at its full
	// stored width; Size and Root name the tree that Go's TileHashReader checks every tile against
	Tiles map[string]string `json:"tiles"`

	// check_inclusion, check_consistency
	Proof    []string `json:"proof"`
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	Root     string   `json:"root"`
	LeafHash string   `json:"leaf_hash"`
	OldSize  int64    `json:"old_size"`
	OldRoot  string   `json:"old_root"`
}

type result map[string]any

func main() {
	var req struct {
		Tasks []task `json:"tasks"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "sumdbcheck: bad request:", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(req.Tasks))
	for _, t := range req.Tasks {
		r, err := run(t)
		if err != nil {
			r = result{"ok": false, "error": err.Error()}
		} else {
			r["ok"] = true
		}
		results = append(results, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]any{"results": results}); err != nil {
		fmt.Fprintln(os.Stderr, "sumdbcheck:", err)
		os.Exit(2)
	}
}

func run(t task) (result, error) {
	switch t.Op {
	case "open_note":
		return openNote(t)
	case "generate_key":
		skey, vkey, err := note.GenerateKey(rand.Reader, t.Name)
		return result{"skey": skey, "vkey": vkey}, err
	case "sign_note":
		return signNote(t)
	case "tree":
		return tree(t)
	case "tile_proofs":
		return tileProofs(t)
	case "check_inclusion":
		return checkInclusion(t)
	case "check_consistency":
		return checkConsistency(t)
	}
	return nil, fmt.Errorf("unknown op %q", t.Op)
}

func openNote(t task) (result, error) {
	v, err := note.NewVerifier(t.Vkey)
	if err != nil {
		return nil, err
	}
	n, err := note.Open([]byte(t.Note), note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	signers := []string{}
	for _, s := range n.Sigs {
		signers = append(signers, s.Name)
	}
	return result{"text": n.Text, "signers": signers, "unverified": len(n.UnverifiedSigs)}, nil
}

func signNote(t task) (result, error) {
	s, err := note.NewSigner(t.Skey)
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: t.Text}, s)
	return result{"note": string(msg)}, err
}

// hashStore is a HashReader over the hashes tlog.StoredHashes asked to keep, in storage order.
type hashStore []tlog.Hash

func (s hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = s[x]
	}
	return out, nil
}

func tree(t task) (result, error) {
	var stored hashStore
	leaves := make([]string, len(t.Records))
	for i, b64 := range t.Records {
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("record %d: %v", i, err)
		}
		hashes, err := tlog.StoredHashes(int64(i), data, stored)
		if err != nil {
			return nil, err
		}
		stored = append(stored, hashes...)
		leaves[i] = hexOf(tlog.RecordHash(data))
	}
	roots := []string{}
	for _, n := range t.Sizes {
		h, err := tlog.TreeHash(n, stored)
		if err != nil {
			return nil, err
		}
		roots = append(roots, hexOf(h))
	}
	inclusion := [][]string{}
	for _, q := range t.Inclusion {
		p, err := tlog.ProveRecord(q[1], q[0], stored)
		if err != nil {
			return nil, err
		}
		inclusion = append(inclusion, hexList(p))
	}
	consistency := [][]string{}
	for _, q := range t.Consistency {
		p, err := tlog.ProveTree(q[1], q[0], stored)
		if err != nil {
			return nil, err
		}
		consistency = append(consistency, hexList(p))
	}
	tiles := map[string]string{}
	for _, tile := range tlog.NewTiles(8, 0, t.TilesAt) {
		data, err := tlog.ReadTileData(tile, stored)
		if err != nil {
			return nil, err
		}
		tiles[fmt.Sprintf("%d/%d", tile.L, tile.N)] = base64.StdEncoding.EncodeToString(data)
	}
	return result{
		"leaf_hashes": leaves, "roots": roots, "inclusion": inclusion, "consistency": consistency, "tiles": tiles,
	}, nil
}

// tileStore serves a log's stored tiles to Go's TileHashReader, cut to the width it asks for.
type tileStore map[string][]byte

func (s tileStore) Height() int { return 8 }

func (s tileStore) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, ok := s[fmt.Sprintf("%d/%d", t.L, t.N)]
		if !ok || len(data) < t.W*tlog.HashSize {
			return nil, fmt.Errorf("no stored tile for %s", t.Path())
		}
		out[i] = data[:t.W*tlog.HashSize]
	}
	return out, nil
}

func (s tileStore) SaveTiles([]tlog.Tile, [][]byte) {}

// tileProofs proves from the stored tiles alone, each tile checked against the tree hash first.
func tileProofs(t task) (result, error) {
	tiles := tileStore{}
	for name, b64 := range t.Tiles {
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("tile %s: %v", name, err)
		}
		tiles[name] = data
	}
	root, err := parseHash(t.Root)
	if err != nil {
		return nil, err
	}
	reader := tlog.TileHashReader(tlog.Tree{N: t.Size, Hash: root}, tiles)
	inclusion := [][]string{}
	for _, q := range t.Inclusion {
		p, err := tlog.ProveRecord(t.Size, q[0], reader)
		if err != nil {
			return nil, err
		}
		inclusion = append(inclusion, hexList(p))
	}
	consistency := [][]string{}
	for _, q := range t.Consistency {
		p, err := tlog.ProveTree(t.Size, q[0], reader)
		if err != nil {
			return nil, err
		}
		consistency = append(consistency, hexList(p))
	}
	return result{"inclusion": inclusion, "consistency": consistency}, nil
}

func checkInclusion(t task) (result, error) {
	proof, h, err := proofAnd(t.Proof, t.Root, t.LeafHash)
	if err != nil {
		return nil, err
	}
	return result{}, tlog.CheckRecord(proof, t.Size, h[0], t.Index, h[1])
}

func checkConsistency(t task) (result, error) {
	proof, h, err := proofAnd(t.Proof, t.Root, t.OldRoot)
	if err != nil {
		return nil, err
	}
	return result{}, tlog.CheckTree(proof, t.Size, h[0], t.OldSize, h[1])
}

// proofAnd parses a proof's hashes and the other hashes a check needs.
func proofAnd(proof []string, hashes ...string) ([]tlog.Hash, []tlog.Hash, error) {
	p, err := parseHashes(proof)
	if err != nil {
		return nil, nil, err
	}
	h, err := parseHashes(hashes)
	return p, h, err
}

func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("not a hex SHA-256 hash: %q", s)
	}
	copy(h[:], b)
	return h, nil
}

func parseHashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := parseHash(s)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

func hexOf(h tlog.Hash) string { return hex.EncodeToString(h[:]) }

func hexList(hashes []tlog.Hash) []string {
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = hexOf(h)
	}
	return out
}
