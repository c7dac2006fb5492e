// Package vault is the backup repository inside one blob container: where things live, how
// a stripe of backup data is written and read back encrypted, what a recovery point's
// manifest says, how points are verified, and how garbage is swept. It sits on a Store
// (Azure Blob Storage via package azstore, or MemStore in tests), in the way a restic
// repository sits on its backend: the Store moves bytes, the Repository gives them meaning.
//
// # Layout
//
// Every name starts with "v1/" so a later layout can coexist in the same container:
//
//	v1/items/<itemID>/item.json                                protected-item record (authenticated envelope)
//	v1/items/<itemID>/points/<pointID>.json                    manifest of one recovery point (authenticated envelope)
//	v1/items/<itemID>/drill-results/<start>_<outcome>_<pointID>.json  one restore drill's record (drills.go)
//	v1/items/<itemID>/data/<pointID>/a<attempt>-s<stripe>.bak  encrypted stripe data (block blob)
//	v1/items/<itemID>/data/<pointID>/a<attempt>-s<stripe>.idx  stripe index (block map, JSON, authenticated)
//	v1/keys/<keyID>.json                                       one data key, wrapped under the KEK (keys.go; package keys)
//
// itemID is "i" + 24 hex digits of a hash of instance and database name (ItemID), so any
// database name, whatever characters it holds, gives a safe, fixed-length name segment.
// pointID is "<UTC yyyymmddThhmmssZ>-<full|differential|log>-<suffix>" (NewPointID), which
// sorts in time order as plain text. attempt numbers a retried backup, so a retry never
// overwrites (or mixes blocks with) the stripes of a failed try.
//
// Enumerating items never walks their points: ListItems is one hierarchical listing of the
// item folders (delimiter "/"), and ItemIDs (the database limit's count) and Items list the
// item records with delimiter 't', which the layout's names make return at most four
// folders per item (see recordDelimiter); Items then reads one record per item.
//
// # Stripes
//
// A data blob is a sequence of frames (package blockcrypt), one per block SQL Server sent:
// optionally zstd-compressed, AES-256-GCM sealed, with associated data binding the frame to
// its blob name and block id. The index blob beside it (v2) lists, in commit order, each
// block's id and plaintext and stored lengths, plus totals, key id, the stripe's place (item,
// point, stripe ordinal) and a MAC over all of it, so a block dropped, reordered, duplicated
// or cut off, with the index rewritten to match, fails the MAC; the stripe's Digest is that
// MAC. A v1 index (still read) has a plaintext SHA-256 per block and a stripe digest over
// them instead. The manifest records each index's SHA-256, so the chain manifest → index →
// block → plaintext is checked end to end on every read, before the first byte is read for
// everything but the blocks' own tags.
//
// # Authentication
//
// The storage account is not trusted (auth.go): stripe indexes, manifests and summaries carry
// MACs under a subkey of the vault key (blockcrypt.Key.MAC), and the repository checks them
// with its keys (WithKeys, a Keyring: the key a point names). A manifest is stored in an
// envelope (EnvelopeSchema) that holds its exact JSON bytes, the key id and the MAC over the
// blob name, key id and those bytes; Manifest verifies before it decodes. Its summary
// metadata has its own MAC (SummaryAuthMetadataKey), so a listing is authenticated without a
// Get per point. ErrUnauthenticated (and the more specific errors that match it) is what
// every reader that acts refuses with. Readers:
//
//   - Manifest: authenticated only (ErrManifestUnauthenticated, ErrLegacyManifest);
//     ManifestOrLegacy also legacy, for a restore that allows it and for reports;
//   - ListPointSummaries: flags each summary (PointSummary.Auth); planning and retention act
//     on AuthOK only;
//   - OpenStripe, VerifyStripes: the index's SHA-256 and MAC and the committed block list;
//   - Sweep: keeps every blob of a point whose manifest is legacy or fails;
//   - Item, Policy: item records and policies, in a record envelope (RecordEnvelopeSchema,
//     record.go) sealed with the keyring's active key; authenticated only (ErrLegacyRecord,
//     ErrRecordUnauthenticated); ItemUnverified, Items and PolicyUnverified return them
//     flagged, for readers that act on nothing;
//   - Upgrade (`sqlvault vault upgrade`): authenticates legacy manifests whose every block
//     verifies, and legacy item records and policies.
//
// StripeWriter seals and stages up to BlocksInFlight blocks in the background while SQL
// Server sends the next (its Commit fails the stripe if any of them failed), and
// StripeReader.ReadAt fetches the next blocks of a sequential reader ahead of it (bounded,
// pooled buffers): without them the agent's work and SQL Server's alternate instead of
// overlapping (BENCHMARKS.md measures both).
//
// # Commit protocol
//
// A point exists if and only if its manifest does. Stripes are written and committed first
// (uncommitted blocks are invisible); CommitManifest verifies them (their index MACs
// included) and creates the manifest, authenticated, with If-None-Match, so a retried commit
// is idempotent and a point never changes once written (`vault upgrade` rewrites a legacy
// manifest only into its envelope, the bytes unchanged). Data with no manifest is garbage once older than a grace period (Sweep).
//
// # Point summaries
//
// The same Put gives the manifest blob its point's summary as blob metadata
// ("sqlvaultpoint" = "v3:" + a URL query of type, LSNs, GUIDs, recovery forks, the
// server's UTC offset and times; "v1:" and "v2:" are still read; see PointSummary),
// so ListPointSummaries lists an item's points with all that planning needs in one listing
// (one List request per 5,000 blobs) instead of a Get per manifest. The manifest stays the
// record: manifests without a summary (written before summaries existed) or with an unknown
// summary version are read instead, and a restore step checks the manifest it reads against
// the summary its plan was made from. Beside the summary, "sqlvaultkeyid" names the point's
// data key, so ListPointKeys counts points per key in one listing per item.
package vault
