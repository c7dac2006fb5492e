package vault

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// RecordEnvelopeSchema is the format of an authenticated configuration record: an item
// record (item.json) or a stored policy. Like a manifest envelope, it carries the record's
// bytes unchanged with the id of the key that authenticates them and their MAC:
//
//	{"schema": "sqlvault.authenticated-record/v1", "keyId": "…", "mac": "<hex>",
//	 "record": {…the record, byte for byte as MACed…}}
//
// A record that is not JSON (a policy someone wrote by hand) is carried as a string in
// "recordText" instead, so what is authenticated is always the exact bytes written.
//
// The MAC (recordMACLabel) is over the blob's name, the key id and the record's bytes, so a
// record copied over another item's (two items' records swapped) fails as surely as an
// edited one. Records are sealed with the keyring's active data key (the one new points are
// sealed with) and verified with the key their envelope names.
const RecordEnvelopeSchema = "sqlvault.authenticated-record/v1"

const recordMACLabel = "sqlvault record v1"

// ErrRecordUnauthenticated: an item record or policy whose envelope's MAC does not verify:
// changed by someone without the vault key, or copied from another item. It also matches
// ErrUnauthenticated.
var ErrRecordUnauthenticated error = &alsoErr{msg: "vault: record failed authentication (changed by someone without the vault key, or copied from another item)", also: ErrUnauthenticated}

// ErrLegacyRecord: an item record or policy written before they were authenticated (plain
// JSON, no MAC). `sqlvault vault upgrade` authenticates it. It also matches
// ErrUnauthenticated.
var ErrLegacyRecord error = &alsoErr{msg: "vault: record written before item records and policies were authenticated (run `sqlvault vault upgrade`)", also: ErrUnauthenticated}

type recordEnvelope struct {
	Schema     string          `json:"schema"`
	KeyID      string          `json:"keyId"`
	MAC        string          `json:"mac"`
	Record     json.RawMessage `json:"record,omitempty"`
	RecordText *string         `json:"recordText,omitempty"`
}

func recordMACMessage(blob, keyID string, record []byte) []byte {
	var c canon
	c.str(blob).str(keyID).bytes(record)
	return c
}

// sealRecord wraps record in an authenticated envelope for blob under key.
func sealRecord(key *blockcrypt.Key, blob string, record []byte) []byte {
	record = bytes.TrimSpace(record)
	mac := hex.EncodeToString(key.MAC(recordMACLabel, recordMACMessage(blob, key.ID(), record)))
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"schema\": %q,\n  \"keyId\": %q,\n  \"mac\": %q,\n", RecordEnvelopeSchema, key.ID(), mac)
	if json.Valid(record) {
		b.WriteString("  \"record\": ")
		b.Write(record)
	} else {
		text, _ := json.Marshal(string(record)) // a string always marshals
		b.WriteString("  \"recordText\": ")
		b.Write(text)
	}
	b.WriteString("\n}\n")
	return b.Bytes()
}

// activeKeyring is a keyring that also says which key new objects are sealed with
// (keys.Ring, keys.Static, Keys).
type activeKeyring interface {
	Active(ctx context.Context) (*blockcrypt.Key, error)
}

// Active is the first key: the one Keys seals new records with.
func (ks Keys) Active(context.Context) (*blockcrypt.Key, error) {
	for _, k := range ks {
		if k != nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: no key given", ErrNoKey)
}

// activeKey is the key the repository seals records with: the keyring's active data key.
func (r *Repository) activeKey(ctx context.Context) (*blockcrypt.Key, error) {
	if r.keys == nil {
		return nil, fmt.Errorf("%w: item records and policies are authenticated with the vault key: this process was given none (key.file)", ErrNoKey)
	}
	a, ok := r.keys.(activeKeyring)
	if !ok {
		return nil, fmt.Errorf("%w: this keyring names no active key to authenticate records with", ErrNoKey)
	}
	return a.Active(ctx)
}

// putRecord seals record for blob with the active key and writes it.
func (r *Repository) putRecord(ctx context.Context, blob string, record []byte, o PutOptions) error {
	key, err := r.activeKey(ctx)
	if err != nil {
		return fmt.Errorf("vault: write %s: %w", blob, err)
	}
	return r.store.Put(ctx, blob, sealRecord(key, blob, record), o)
}

// openRecord authenticates the stored bytes of blob and returns the record's bytes. auth is
// nil when they verify; otherwise the record is returned with auth saying why it is not
// authenticated (ErrLegacyRecord for a plain record, ErrRecordUnauthenticated for a MAC
// that fails, ErrNoKey wrapped when the key it names is not here). err is for bytes that
// are no envelope of this format at all (a malformed envelope).
func (r *Repository) openRecord(ctx context.Context, blob string, data []byte) (record []byte, auth, err error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if json.Unmarshal(data, &head) != nil || head.Schema != RecordEnvelopeSchema {
		return data, fmt.Errorf("%w: %s", ErrLegacyRecord, blob), nil
	}
	var env recordEnvelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: envelope: %v", ErrInvalidManifest, blob, err)
	}
	switch {
	case env.RecordText != nil && len(env.Record) == 0:
		record = []byte(*env.RecordText)
	case env.RecordText == nil && len(env.Record) > 0:
		record = env.Record
	default:
		return nil, nil, fmt.Errorf("%w: %s: an envelope holds exactly one of record and recordText", ErrInvalidManifest, blob)
	}
	if env.KeyID == "" {
		return nil, nil, fmt.Errorf("%w: %s: envelope without keyId", ErrInvalidManifest, blob)
	}
	key, kerr := r.key(ctx, env.KeyID)
	if kerr != nil {
		// A key id is anyone's to write: a record naming a key the keyring cannot give is
		// not authenticated (and the key error says why, for a KEK out of reach).
		return record, fmt.Errorf("%w: %s: cannot authenticate it: %w", ErrRecordUnauthenticated, blob, kerr), nil
	}
	tag, herr := hex.DecodeString(env.MAC)
	if herr != nil || !key.VerifyMAC(recordMACLabel, recordMACMessage(blob, env.KeyID, record), tag) {
		return record, fmt.Errorf("%w: %s: do not act on it; look at who can write to the storage account, and compare it with your records", ErrRecordUnauthenticated, blob), nil
	}
	return record, nil, nil
}
