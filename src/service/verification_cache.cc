#include "service/verification_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <span>

#include "core/crypto.h"

namespace tokend::service {

namespace {

constexpr std::uint32_t kNoEntry = std::numeric_limits<std::uint32_t>::max();
constexpr std::size_t kHashBytes = core::kLookupHashBytes;
// Token ids are 20 base62 characters (core/ids.h).
constexpr std::size_t kTokenIdBytes = 20;

// Token-id index slots hold (8-bit tag << 24) | (position + 1); 0 marks an empty slot. The tag
// (8 more bits of the key's hash) spares most probes a visit to the entry itself.
constexpr unsigned kSlotIndexBits = 24;
constexpr std::uint32_t kSlotIndexMask = (std::uint32_t{1} << kSlotIndexBits) - 1;
// Positions must fit the slot's 24 bits (minus the empty marker), and a shard's table has 4/3
// of its capacity: 12.5M entries per shard, 3.2 billion per cache, beyond any memory this runs
// in.
constexpr std::size_t kMaxShardEntries = std::size_t{kSlotIndexMask - 1} / 4 * 3;
constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;
// MADV_COLLAPSE (Linux 6.1, Debian 12's kernel), which older C library headers lack. On an
// older kernel the call fails harmlessly with EINVAL.
#ifdef MADV_COLLAPSE
constexpr int kCollapse = MADV_COLLAPSE;
#else
constexpr int kCollapse = 25;
#endif

// Lookup hashes are keyed BLAKE2b output, uniformly distributed: their first 8 bytes serve
// as the hash of the key. Low 8 bits pick the shard, bits 8-39 the home position in the
// shard's table, the top 24 bits its tag.
std::uint64_t KeyHash(std::string_view lookup_hash) {
  std::uint64_t h;
  std::memcpy(&h, lookup_hash.data(), sizeof h);
  return h;
}
// Never 0, which marks a free position.
std::uint32_t TableTag(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 40) << 1 | 1; }
std::uint64_t IdHash(std::string_view token_id) { return std::hash<std::string_view>{}(token_id); }
std::size_t Home(std::uint64_t h) { return static_cast<std::size_t>(h >> 8); }
std::uint32_t Tag(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 56); }
std::uint32_t SlotEntry(std::uint32_t slot) { return (slot & kSlotIndexMask) - 1; }

// Linear probing over a power-of-two index of positions (the token-id index). Returns the slot
// of the position for which `match(position)` holds, or kNoEntry.
template <typename Match>
std::uint32_t FindSlot(std::span<const std::uint32_t> table, std::uint64_t h, Match match) {
  if (table.empty()) return kNoEntry;
  const std::size_t mask = table.size() - 1;
  const std::uint32_t tag = Tag(h);
  for (std::size_t i = Home(h) & mask;; i = (i + 1) & mask) {
    const std::uint32_t slot = table[i];
    if (slot == 0) return kNoEntry;
    if ((slot >> kSlotIndexBits) == tag && match(SlotEntry(slot))) {
      return static_cast<std::uint32_t>(i);
    }
  }
}

// REQUIRES: the table has a free slot.
void InsertSlot(std::span<std::uint32_t> table, std::uint64_t h, std::uint32_t entry) {
  const std::size_t mask = table.size() - 1;
  std::size_t i = Home(h) & mask;
  while (table[i] != 0) i = (i + 1) & mask;
  table[i] = (Tag(h) << kSlotIndexBits) | (entry + 1);
}

// Keeps the load at most 3/4 (linear probing degrades fast beyond), doubling the table and
// re-inserting every slot; `hash_of(entry number)` gives an entry's key hash.
template <typename HashOf>
void ReserveSlot(std::vector<std::uint32_t>& table, std::size_t used, HashOf hash_of) {
  if ((used + 1) * 4 <= table.size() * 3) return;
  std::vector<std::uint32_t> grown(std::max<std::size_t>(16, table.size() * 2), 0);
  for (std::uint32_t slot : table) {
    if (slot != 0) InsertSlot(grown, hash_of(SlotEntry(slot)), SlotEntry(slot));
  }
  table.swap(grown);
}

// Backward-shift deletion of linear probing, for both tables: the occupant of position j,
// after a hole in its probe run, stays when its home lies cyclically in (hole, j]; otherwise it
// moves into the hole to remain reachable.
bool StaysAfterHole(std::size_t hole, std::size_t home, std::size_t j) {
  return hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
}

// Backward-shift deletion: no tombstones, so probe lengths never degrade with churn.
template <typename HashOf>
void EraseSlot(std::span<std::uint32_t> table, std::uint32_t position, HashOf hash_of) {
  const std::size_t mask = table.size() - 1;
  std::size_t hole = position;
  for (std::size_t j = (hole + 1) & mask;; j = (j + 1) & mask) {
    const std::uint32_t slot = table[j];
    if (slot == 0) break;
    if (StaysAfterHole(hole, Home(hash_of(SlotEntry(slot))) & mask, j)) continue;
    table[hole] = slot;
    hole = j;
  }
  table[hole] = 0;
}

}  // namespace

// --- VerifiedToken ---------------------------------------------------------------------------

void VerifiedToken::SetStrings(std::string_view tenant, std::string_view user,
                               std::string_view name, std::string_view department,
                               std::string_view user_type, std::string_view token) {
  const std::size_t total = tenant.size() + user.size() + name.size() + department.size() +
                            user_type.size() + token.size();
  char* out = inline_.data();
  if (total > inline_.size()) {
    overflow_.assign(total, '\0');
    out = overflow_.data();
  }
  auto put = [&out](std::string_view s) {
    if (!s.empty()) std::memcpy(out, s.data(), s.size());
    std::string_view copy(out, s.size());
    out += s.size();
    return copy;
  };
  tenant_id = put(tenant);
  user_id = put(user);
  username = put(name);
  department_id = put(department);
  user_type_id = put(user_type);
  token_id = put(token);
}

void VerifiedToken::SetFrom(const CachedCredential& credential) {
  const core::Principal& p = credential.principal;
  SetStrings(p.tenant_id, p.user_id, p.username, p.department_id, p.user_type_id,
             p.token ? std::string_view(p.token->id) : std::string_view());
  permissions = p.permissions;
  if (p.token) {
    kind = p.token->kind;
    expires_at = p.token->expires_at;
    issued_at = p.token->issued_at;
  }
  mobile_idle_timeout = credential.settings.mobile_idle_timeout;
  mobile_max_lifetime = credential.settings.mobile_max_lifetime;
}

core::Principal VerifiedToken::ToPrincipal() const {
  core::Principal p;
  p.tenant_id = tenant_id;
  p.user_id = user_id;
  p.username = username;
  p.department_id = department_id;
  p.user_type_id = user_type_id;
  p.permissions = permissions;
  p.token = core::Principal::TokenRef{std::string(token_id), kind, expires_at, issued_at};
  return p;
}

CachedCredential VerifiedToken::ToCredential() const {
  CachedCredential credential;
  credential.principal = ToPrincipal();
  credential.settings.mobile_idle_timeout = mobile_idle_timeout;
  credential.settings.mobile_max_lifetime = mobile_max_lifetime;
  return credential;
}

// Zeroed memory reserved up front for the whole capacity, which the kernel maps only as it is
// touched. Two of them hold the tags and the entries of every shard's table. At millions of tokens
// a hit reads both at random places; on 4 KiB pages each read also walked the page tables (~450 ns
// a read in a VM at 10M tokens, ~280 ns on huge pages), so ranges that are mostly in use get huge
// pages (Advise).
class VerificationCache::Arena {
 public:
  // `huge`: advise huge pages for all of it now (for memory that is small next to the
  // entries, so that mapping all of it early costs little).
  Arena(std::size_t bytes, bool huge) : mapped_(bytes + 2 * kHugePageBytes) {
    // MAP_NORESERVE: a large capacity must not be refused for memory it may never use.
    void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    mapping_ = static_cast<char*>(p);
    // Huge pages need 2 MiB alignment: the mapping has room for it, and for Advise to round the
    // end of the arena up to a huge page.
    const auto address = reinterpret_cast<std::uintptr_t>(mapping_);
    base_ = mapping_ + ((kHugePageBytes - address % kHugePageBytes) % kHugePageBytes);
    if (huge) madvise(base_, bytes, MADV_HUGEPAGE);  // a hint only
  }
  ~Arena() { munmap(mapping_, mapped_); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // 2 MiB-aligned.
  void* data() const { return base_; }

  // Huge pages for the 2 MiB pages overlapping [start, start + bytes), from now on and for the
  // pages already mapped (collapsed at once: khugepaged would take minutes). A hint only; it
  // may spill into the neighbouring ranges of the arena, which are used in the same way.
  // REQUIRES: the range is in this arena.
  void Advise(const void* start, std::size_t bytes) {
    const std::size_t offset = reinterpret_cast<std::uintptr_t>(start) % kHugePageBytes;
    char* first = static_cast<char*>(const_cast<void*>(start)) - offset;
    const std::size_t length =
        (offset + bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    madvise(first, length, MADV_HUGEPAGE);
    madvise(first, length, kCollapse);
  }

 private:
  const std::size_t mapped_;
  char* mapping_ = nullptr;
  char* base_ = nullptr;
};

// --- Storage ---------------------------------------------------------------------------------

// One cached token: 112 bytes, no pointers (entries move within their table).
struct VerificationCache::Entry {
  std::array<unsigned char, kHashBytes> hash;
  std::array<char, kTokenIdBytes> token_id;
  std::uint8_t token_id_size;
  std::uint8_t referenced;  // CLOCK: set by a hit, cleared as the hand passes
  std::uint8_t kind;        // core::TokenKind
  // Interner handles.
  std::uint32_t tenant, user, department, user_type;  // user: id and username
  std::uint32_t permissions;
  std::uint32_t mobile_idle_seconds, mobile_max_seconds;
  std::uint32_t generation;  // sum of tenant, user and user type generations at fill time
  std::int64_t expires_at;   // the token's, Unix seconds
  std::int64_t issued_at;
  std::int64_t entry_expires;  // the entry's (ttl), Unix seconds

  std::string_view token_id_view() const { return {token_id.data(), token_id_size}; }
};

struct VerificationCache::NegativeSlot {
  std::array<unsigned char, kHashBytes> hash;
  std::int64_t expires;  // Unix seconds; 0 = empty
};

// Each shard on its own cache lines, so that two threads locking neighbouring shards do not
// bounce one line between cores.
//
// The entries live in the table itself: open addressing with linear probing by lookup hash and
// backward-shift deletion (no tombstones, so probe lengths never degrade with churn), at load
// 3/4 at most. Since the home position follows from the hash alone, a hit can fetch the tags
// and the entry at once (Prefetch) instead of reading an index slot and then the entry it names:
// one DRAM latency instead of two. Tags and entries are two arrays so that a probe reads 16
// tags per cache line.
struct alignas(64) VerificationCache::Shard {
  mutable std::mutex mutex;
  // This shard's part of the arenas, never resized. tags[i] is 0 for a free position, else
  // TableTag of the key hash of entries[i].
  std::span<std::uint32_t> tags;  // GUARDED_BY(mutex), and below
  std::span<Entry> entries;
  std::vector<std::uint32_t> by_id;  // positions keyed by token id
  std::uint32_t live = 0;
  std::uint32_t hand = 0;                     // CLOCK hand: a position
  std::unique_ptr<NegativeSlot[]> negatives;  // allocated on first use
  std::uint64_t evictions = 0;
  bool huge_pages = false;  // entries advised (see Arena)

  std::size_t HomeOf(std::uint64_t h) const {
    return static_cast<std::size_t>(((h >> 8) & 0xffffffff) * tags.size() >> 32);
  }
  std::size_t Next(std::size_t i) const { return i + 1 == tags.size() ? 0 : i + 1; }
  std::uint64_t HashOf(std::size_t i) const {
    return KeyHash({reinterpret_cast<const char*>(entries[i].hash.data()), kHashBytes});
  }
  std::uint64_t IdHashOf(std::uint32_t i) const { return IdHash(entries[i].token_id_view()); }

  // Starts the reads of a lookup without waiting for them. Needs no lock: the spans never
  // change, and a prefetch reads nothing.
  void Prefetch(std::uint64_t h) const {
    const std::size_t home = HomeOf(h);
    __builtin_prefetch(&tags[home]);
    // The entry is at home or a position or two further (load 3/4 at most); each is 112 bytes.
    const char* entry = reinterpret_cast<const char*>(&entries[home]);
    const char* last = reinterpret_cast<const char*>(entries.data() + entries.size());
    for (const char* line = entry; line < entry + 2 * sizeof(Entry) && line < last; line += 64) {
      __builtin_prefetch(line);
    }
  }

  std::uint32_t FindByHash(std::string_view lookup_hash, std::uint64_t h) const {
    const std::uint32_t tag = TableTag(h);
    for (std::size_t i = HomeOf(h);; i = Next(i)) {
      const std::uint32_t t = tags[i];
      if (t == 0) return kNoEntry;
      // Not constant-time, and need not be: the attacker knows neither the key of the hash
      // nor anything about the cached hashes.
      if (t == tag && std::memcmp(entries[i].hash.data(), lookup_hash.data(), kHashBytes) == 0) {
        return static_cast<std::uint32_t>(i);
      }
    }
  }
};

// Interned ids with a generation each. A record is a key (an id) plus an optional extra string
// stored beside it (the username with the user id), so that a hit reads one record per user:
// [generation: 4][key size: 1][extra size: 1][key][extra], 4-byte aligned, packed into chunks.
// A handle is the chunk number and the record's offset in 4-byte units.
//
// Readers (Key, Extra, Generation) hold a shard lock and take no other; writers hold mutex_;
// Clear holds every shard lock and mutex_, so a reader never sees storage freed under it.
// Records never move until Clear. A key may have several records (its username changed); Bump
// bumps them all, so no record of an invalidated id keeps an old generation.
class VerificationCache::Interner {
 public:
  static constexpr std::size_t kMaxStringBytes = 255;  // sizes are stored in one byte

  explicit Interner(std::size_t max_records)
      : max_records_(max_records),
        max_chunks_(std::min<std::size_t>(
            kMaxChunks, kSmallChunks + (max_records * kMaxRecordBytes) / kLargeChunkBytes + 1)),
        chunks_(new std::atomic<char*>[max_chunks_]()) {}
  ~Interner() { ClearLocked(); }
  Interner(const Interner&) = delete;
  Interner& operator=(const Interner&) = delete;

  // Interns the entry's ids and records its generation sum. False when the table is full.
  // REQUIRES: every string at most kMaxStringBytes.
  bool Intern(const core::Principal& p, Entry& entry) {
    std::lock_guard lock(mutex_);
    const std::uint32_t tenant = InternLocked(p.tenant_id, {});
    const std::uint32_t user = InternLocked(p.user_id, p.username);
    const std::uint32_t department = InternLocked(p.department_id, {});
    const std::uint32_t user_type = InternLocked(p.user_type_id, {});
    if (tenant == kNoEntry || user == kNoEntry || department == kNoEntry || user_type == kNoEntry) {
      return false;
    }
    entry.tenant = tenant;
    entry.user = user;
    entry.department = department;
    entry.user_type = user_type;
    // Read before the fill's epoch check (VerificationCache::Put): see invariant 1.
    entry.generation = Generation(tenant) + Generation(user) + Generation(user_type);
    return true;
  }

  // REQUIRES (all three): a shard lock or mutex_ held; `handle` came from Intern since the
  // last Clear.
  std::string_view Key(std::uint32_t handle) const {
    const char* record = RecordAt(handle);
    return {record + kHeaderBytes, static_cast<unsigned char>(record[4])};
  }
  std::string_view Extra(std::uint32_t handle) const {
    const char* record = RecordAt(handle);
    const std::size_t key_size = static_cast<unsigned char>(record[4]);
    return {record + kHeaderBytes + key_size, static_cast<unsigned char>(record[5])};
  }
  std::uint32_t Generation(std::uint32_t handle) const {
    return GenerationOf(RecordAt(handle)).load(std::memory_order_acquire);
  }

  // Bumps the generation of every record of `key`; nothing can be cached for it otherwise.
  void Bump(std::string_view key) {
    std::lock_guard lock(mutex_);
    if (index_.empty()) return;
    const std::size_t mask = index_.size() - 1;
    for (std::size_t i = std::hash<std::string_view>{}(key)&mask; index_[i] != 0;
         i = (i + 1) & mask) {
      if (Key(index_[i] - 1) == key) GenerationOf(RecordAt(index_[i] - 1)).fetch_add(1);
    }
  }

  // REQUIRES: every shard lock held.
  void Clear() {
    std::lock_guard lock(mutex_);
    ClearLocked();
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return count_;
  }

 private:
  static constexpr std::size_t kHeaderBytes = 6;
  // A valid id is 20 characters and a username at most 64 (core/rules.h): 90 bytes, 92 aligned.
  // The byte budget allows that much per record, so it never binds before the record count.
  static constexpr std::size_t kMaxRecordBytes = 92;
  // The first chunks are small so that a small cache stays small; later ones are one 2 MiB
  // huge page each (madvise), because at millions of users a hit's read of the user record is
  // a random access, and a TLB miss costs as much as the cache miss in a VM.
  static constexpr std::size_t kSmallChunks = 8;
  static constexpr std::size_t kSmallChunkBytes = 64 * 1024;
  static constexpr std::size_t kLargeChunkBytes = 2 * 1024 * 1024;
  static constexpr unsigned kOffsetBits = 19;  // 2 MiB in 4-byte units
  static constexpr std::size_t kMaxChunks = std::size_t{1} << (32 - kOffsetBits);

  static std::atomic_ref<std::uint32_t> GenerationOf(const char* record) {
    return std::atomic_ref<std::uint32_t>(
        *reinterpret_cast<std::uint32_t*>(const_cast<char*>(record)));
  }

  const char* RecordAt(std::uint32_t handle) const {
    const char* chunk = chunks_[handle >> kOffsetBits].load(std::memory_order_acquire);
    return chunk + std::size_t{handle & ((std::uint32_t{1} << kOffsetBits) - 1)} * 4;
  }

  std::uint32_t InternLocked(std::string_view key, std::string_view extra) {
    const std::uint64_t hash = std::hash<std::string_view>{}(key);
    if (!index_.empty()) {
      const std::size_t mask = index_.size() - 1;
      for (std::size_t i = hash & mask; index_[i] != 0; i = (i + 1) & mask) {
        const std::uint32_t handle = index_[i] - 1;
        if (Key(handle) == key && Extra(handle) == extra) return handle;
      }
    }
    if (count_ >= max_records_) return kNoEntry;
    const std::size_t bytes = (kHeaderBytes + key.size() + extra.size() + 3) & ~std::size_t{3};
    if (chunk_left_ < bytes) {
      const std::size_t size = chunk_count_ < kSmallChunks ? kSmallChunkBytes : kLargeChunkBytes;
      if (chunk_count_ >= max_chunks_) return kNoEntry;
      char* chunk = static_cast<char*>(std::aligned_alloc(size, size));
      if (chunk == nullptr) return kNoEntry;
      if (size == kLargeChunkBytes) madvise(chunk, size, MADV_HUGEPAGE);  // a hint only
      chunks_[chunk_count_].store(chunk, std::memory_order_release);
      chunk_used_ = 0;
      chunk_left_ = size;
      ++chunk_count_;
    }
    char* record = chunks_[chunk_count_ - 1].load(std::memory_order_relaxed) + chunk_used_;
    const std::uint32_t handle =
        static_cast<std::uint32_t>(((chunk_count_ - 1) << kOffsetBits) | (chunk_used_ / 4));
    std::memset(record, 0, 4);
    record[4] = static_cast<char>(key.size());
    record[5] = static_cast<char>(extra.size());
    if (!key.empty()) std::memcpy(record + kHeaderBytes, key.data(), key.size());
    if (!extra.empty()) std::memcpy(record + kHeaderBytes + key.size(), extra.data(), extra.size());
    chunk_used_ += bytes;
    chunk_left_ -= bytes;
    ++count_;
    if ((count_ + 1) * 2 > index_.size()) GrowIndexLocked();
    const std::size_t mask = index_.size() - 1;
    std::size_t i = hash & mask;
    while (index_[i] != 0) i = (i + 1) & mask;
    index_[i] = handle + 1;
    return handle;
  }

  // Load at most 1/2: the index is small next to the records, and Bump walks whole chains.
  void GrowIndexLocked() {
    std::vector<std::uint32_t> grown(std::max<std::size_t>(64, index_.size() * 2), 0);
    const std::size_t mask = grown.size() - 1;
    for (std::uint32_t slot : index_) {
      if (slot == 0) continue;
      std::size_t i = std::hash<std::string_view>{}(Key(slot - 1)) & mask;
      while (grown[i] != 0) i = (i + 1) & mask;
      grown[i] = slot;
    }
    index_.swap(grown);
  }

  void ClearLocked() {
    for (std::size_t c = 0; c < chunk_count_; ++c) std::free(chunks_[c].exchange(nullptr));
    std::vector<std::uint32_t>().swap(index_);
    chunk_count_ = 0;
    chunk_used_ = 0;
    chunk_left_ = 0;
    count_ = 0;
  }

  const std::size_t max_records_;
  const std::size_t max_chunks_;
  std::unique_ptr<std::atomic<char*>[]> chunks_;  // fixed size: never reallocated
  mutable std::mutex mutex_;
  std::vector<std::uint32_t> index_;  // handle + 1 by key hash. GUARDED_BY(mutex_)
  std::size_t chunk_count_ = 0;       // GUARDED_BY(mutex_), as is everything below
  std::size_t chunk_used_ = 0;
  std::size_t chunk_left_ = 0;
  std::size_t count_ = 0;
};

// --- VerificationCache -----------------------------------------------------------------------

VerificationCache::VerificationCache(const core::Clock& clock, VerificationCacheOptions options)
    : clock_(clock),
      options_(options),
      shard_capacity_(std::clamp<std::size_t>(options.capacity / kShards, 1, kMaxShardEntries)),
      negative_slots_per_shard_(std::bit_floor(std::max<std::size_t>(
          1, (options.negative_capacity != 0 ? options.negative_capacity : options.capacity / 8) /
                 kShards))),
      slots_per_shard_(std::max<std::size_t>(16, shard_capacity_ * 4 / 3 + 1)),
      slot_arena_(
          std::make_unique<Arena>(slots_per_shard_ * kShards * sizeof(std::uint32_t), true)),
      entry_arena_(std::make_unique<Arena>(slots_per_shard_ * kShards * sizeof(Entry), false)),
      shards_(new Shard[kShards]),
      interner_(std::make_unique<Interner>(kInternedPerEntry * shard_capacity_ * kShards)) {
  static_assert(sizeof(Entry) <= 112, "keep cached tokens compact: see docs/performance.md");
  auto* tags = static_cast<std::uint32_t*>(slot_arena_->data());
  auto* entries = static_cast<Entry*>(entry_arena_->data());
  for (std::size_t s = 0; s < kShards; ++s) {
    shards_[s].tags = {tags + s * slots_per_shard_, slots_per_shard_};
    shards_[s].entries = {entries + s * slots_per_shard_, slots_per_shard_};
  }
}

VerificationCache::~VerificationCache() = default;

VerificationCache::Shard& VerificationCache::ShardFor(std::uint64_t h) const {
  return shards_[h & (kShards - 1)];
}

VerificationCache::Ticket VerificationCache::BeginFill() const { return Ticket{epoch_.load()}; }

bool VerificationCache::CheckFresh(const Entry& entry, core::Time now) const {
  if (core::ToUnixSeconds(now) >= entry.entry_expires) return false;
  const std::uint32_t generation = interner_->Generation(entry.tenant) +
                                   interner_->Generation(entry.user) +
                                   interner_->Generation(entry.user_type);
  return generation == entry.generation;
}

VerificationCache::Outcome VerificationCache::Find(std::string_view lookup_hash,
                                                   VerifiedToken& out) {
  return Find(lookup_hash, clock_.Now(), out);
}

VerificationCache::Outcome VerificationCache::Find(std::string_view lookup_hash, core::Time now,
                                                   VerifiedToken& out) {
  if (lookup_hash.size() != kHashBytes) return Outcome::kMiss;
  const std::uint64_t h = KeyHash(lookup_hash);
  Shard& shard = ShardFor(h);
  shard.Prefetch(h);  // while the lock is taken
  std::lock_guard lock(shard.mutex);
  if (std::uint32_t i = shard.FindByHash(lookup_hash, h); i != kNoEntry) {
    Entry& entry = shard.entries[i];
    if (!CheckFresh(entry, now)) {
      EraseLocked(shard, i);
      return Outcome::kMiss;
    }
    entry.referenced = 1;
    out.SetStrings(interner_->Key(entry.tenant), interner_->Key(entry.user),
                   interner_->Extra(entry.user), interner_->Key(entry.department),
                   interner_->Key(entry.user_type), entry.token_id_view());
    out.permissions = core::PermissionSet::FromBits(entry.permissions);
    out.kind = static_cast<core::TokenKind>(entry.kind);
    out.expires_at = core::FromUnixSeconds(entry.expires_at);
    out.issued_at = core::FromUnixSeconds(entry.issued_at);
    out.mobile_idle_timeout = core::seconds{entry.mobile_idle_seconds};
    out.mobile_max_lifetime = core::seconds{entry.mobile_max_seconds};
    return Outcome::kHit;
  }
  if (shard.negatives) {
    const NegativeSlot& slot = shard.negatives[(h >> 32) & (negative_slots_per_shard_ - 1)];
    if (core::ToUnixSeconds(now) < slot.expires &&
        std::memcmp(slot.hash.data(), lookup_hash.data(), kHashBytes) == 0) {
      return Outcome::kNegative;
    }
  }
  return Outcome::kMiss;
}

VerificationCache::Lookup VerificationCache::Get(std::string_view lookup_hash) {
  VerifiedToken token;
  Outcome outcome = Find(lookup_hash, token);
  if (outcome != Outcome::kHit) return Lookup{outcome, std::nullopt};
  return Lookup{outcome, token.ToCredential()};
}

void VerificationCache::Put(std::string_view lookup_hash, const CachedCredential& credential,
                            Ticket ticket) {
  const core::Principal& p = credential.principal;
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::uint32_t>::max();
  const std::int64_t idle = credential.settings.mobile_idle_timeout.count();
  const std::int64_t max = credential.settings.mobile_max_lifetime.count();
  constexpr std::size_t kMaxString = Interner::kMaxStringBytes;
  if (lookup_hash.size() != kHashBytes || !p.token || p.token->id.size() > kTokenIdBytes ||
      idle < 0 || idle > kMaxSeconds || max < 0 || max > kMaxSeconds ||
      p.tenant_id.size() > kMaxString || p.user_id.size() > kMaxString ||
      p.username.size() > kMaxString || p.department_id.size() > kMaxString ||
      p.user_type_id.size() > kMaxString) {
    return;
  }
  Entry entry{};
  std::memcpy(entry.hash.data(), lookup_hash.data(), kHashBytes);
  std::memcpy(entry.token_id.data(), p.token->id.data(), p.token->id.size());
  entry.token_id_size = static_cast<std::uint8_t>(p.token->id.size());
  entry.kind = static_cast<std::uint8_t>(p.token->kind);
  entry.permissions = p.permissions.bits();
  entry.mobile_idle_seconds = static_cast<std::uint32_t>(idle);
  entry.mobile_max_seconds = static_cast<std::uint32_t>(max);
  entry.expires_at = core::ToUnixSeconds(p.token->expires_at);
  entry.issued_at = core::ToUnixSeconds(p.token->issued_at);
  const core::Time now = clock_.Now();
  entry.entry_expires = core::ToUnixSeconds(now + options_.ttl);
  if (!interner_->Intern(p, entry)) {
    // Full of ids, most of them probably of tokens long evicted (invariant 3). This fill goes
    // too: the reset bumps the epoch.
    ResetInterner();
    return;
  }
  const std::uint64_t h = KeyHash(lookup_hash);
  Shard& shard = ShardFor(h);
  bool advise = false;
  {
    std::lock_guard lock(shard.mutex);
    // The handles above stay valid from here on: ResetInterner bumps the epoch before it clears.
    if (epoch_.load() != ticket.epoch) return;
    if (std::uint32_t i = shard.FindByHash(lookup_hash, h); i != kNoEntry) EraseLocked(shard, i);
    DropNegativeLocked(shard, lookup_hash, h);
    if (shard.live >= shard_capacity_) EvictOneLocked(shard, now);
    advise = InsertLocked(shard, entry, h);
  }
  // Outside the lock: collapsing copies the shard's table into huge pages (milliseconds at
  // millions of entries), which readers need not wait for.
  if (advise) entry_arena_->Advise(shard.entries.data(), shard.entries.size_bytes());
}

bool VerificationCache::InsertLocked(Shard& shard, const Entry& entry, std::uint64_t h) {
  ReserveSlot(shard.by_id, shard.live, [&](std::uint32_t i) { return shard.IdHashOf(i); });
  // A free position exists: live < shard_capacity_ < 3/4 of the table.
  std::size_t i = shard.HomeOf(h);
  while (shard.tags[i] != 0) i = shard.Next(i);
  shard.tags[i] = TableTag(h);
  Entry& stored = shard.entries[i];
  stored = entry;
  stored.referenced = 0;
  InsertSlot(shard.by_id, IdHash(stored.token_id_view()), static_cast<std::uint32_t>(i));
  ++shard.live;
  // Entries are spread over the whole table, so a small cache would map a huge page for each
  // of its few entries: huge pages only once the shard is a quarter full, when every 4 KiB page
  // of its table is in use anyway.
  if (!shard.huge_pages && std::size_t{shard.live} * 4 >= shard_capacity_) {
    shard.huge_pages = true;
    return true;
  }
  return false;
}

void VerificationCache::EraseLocked(Shard& shard, std::uint32_t i) {
  // The id index first, while every entry is where it names.
  std::uint32_t slot =
      FindSlot(shard.by_id, shard.IdHashOf(i), [i](std::uint32_t j) { return j == i; });
  EraseSlot(shard.by_id, slot, [&](std::uint32_t j) { return shard.IdHashOf(j); });
  // Backward shift, as EraseSlot's; a moved entry's id slot follows it.
  std::size_t hole = i;
  for (std::size_t j = shard.Next(hole); shard.tags[j] != 0; j = shard.Next(j)) {
    if (StaysAfterHole(hole, shard.HomeOf(shard.HashOf(j)), j)) continue;
    shard.tags[hole] = shard.tags[j];
    shard.entries[hole] = shard.entries[j];
    const auto moved = static_cast<std::uint32_t>(j);
    slot = FindSlot(shard.by_id, shard.IdHashOf(static_cast<std::uint32_t>(hole)),
                    [moved](std::uint32_t k) { return k == moved; });
    shard.by_id[slot] =
        (shard.by_id[slot] & ~kSlotIndexMask) | static_cast<std::uint32_t>(hole + 1);
    hole = j;
  }
  shard.tags[hole] = 0;
  --shard.live;
}

void VerificationCache::EvictOneLocked(Shard& shard, core::Time now) {
  // Second chance: an entry hit since the hand last passed is skipped once. Two rounds at most,
  // since the first clears every reference bit.
  const std::size_t positions = shard.tags.size();
  for (std::size_t step = 0; step <= 2 * positions; ++step) {
    if (shard.hand >= positions) shard.hand = 0;
    const std::uint32_t i = shard.hand++;
    if (shard.tags[i] == 0) continue;
    Entry& entry = shard.entries[i];
    if (entry.referenced && CheckFresh(entry, now)) {
      entry.referenced = 0;
      continue;
    }
    EraseLocked(shard, i);
    ++shard.evictions;
    return;
  }
}

void VerificationCache::PutNegative(std::string_view lookup_hash, Ticket ticket) {
  if (lookup_hash.size() != kHashBytes) return;
  const std::uint64_t h = KeyHash(lookup_hash);
  const core::Time now = clock_.Now();
  Shard& shard = ShardFor(h);
  std::lock_guard lock(shard.mutex);
  if (epoch_.load() != ticket.epoch) return;
  if (!shard.negatives) shard.negatives.reset(new NegativeSlot[negative_slots_per_shard_]());
  NegativeSlot& slot = shard.negatives[(h >> 32) & (negative_slots_per_shard_ - 1)];
  std::memcpy(slot.hash.data(), lookup_hash.data(), kHashBytes);
  slot.expires = core::ToUnixSeconds(now + options_.negative_ttl);
}

void VerificationCache::DropNegativeLocked(Shard& shard, std::string_view lookup_hash,
                                           std::uint64_t h) {
  if (!shard.negatives) return;
  NegativeSlot& slot = shard.negatives[(h >> 32) & (negative_slots_per_shard_ - 1)];
  if (std::memcmp(slot.hash.data(), lookup_hash.data(), kHashBytes) == 0) slot.expires = 0;
}

void VerificationCache::ExtendExpiry(std::string_view lookup_hash, core::Time expires_at) {
  if (lookup_hash.size() != kHashBytes) return;
  const std::uint64_t h = KeyHash(lookup_hash);
  Shard& shard = ShardFor(h);
  std::lock_guard lock(shard.mutex);
  if (std::uint32_t i = shard.FindByHash(lookup_hash, h); i != kNoEntry) {
    Entry& entry = shard.entries[i];
    entry.expires_at = std::max(entry.expires_at, core::ToUnixSeconds(expires_at));
  }
}

void VerificationCache::OnTokenCreated(std::string_view lookup_hash) {
  InvalidateLookupHash(lookup_hash);
}

void VerificationCache::InvalidateLookupHash(std::string_view lookup_hash) {
  epoch_.fetch_add(1);
  if (lookup_hash.size() != kHashBytes) return;
  const std::uint64_t h = KeyHash(lookup_hash);
  Shard& shard = ShardFor(h);
  std::lock_guard lock(shard.mutex);
  if (std::uint32_t i = shard.FindByHash(lookup_hash, h); i != kNoEntry) EraseLocked(shard, i);
  DropNegativeLocked(shard, lookup_hash, h);
}

void VerificationCache::InvalidateTokenId(std::string_view token_id) {
  epoch_.fetch_add(1);
  const std::uint64_t h = IdHash(token_id);
  for (std::size_t s = 0; s < kShards; ++s) {
    Shard& shard = shards_[s];
    std::lock_guard lock(shard.mutex);
    std::uint32_t position = FindSlot(shard.by_id, h, [&](std::uint32_t i) {
      return shard.entries[i].token_id_view() == token_id;
    });
    if (position != kNoEntry) EraseLocked(shard, SlotEntry(shard.by_id[position]));
  }
}

void VerificationCache::BumpGeneration(const std::string& id) {
  epoch_.fetch_add(1);
  interner_->Bump(id);
}

// Ids are unique across tenants (core/ids.h), so the id alone names the user or user type; a
// clash would only drop more entries than needed.
void VerificationCache::InvalidateUser(const std::string&, const std::string& user_id) {
  BumpGeneration(user_id);
}

void VerificationCache::InvalidateUserType(const std::string&, const std::string& user_type_id) {
  BumpGeneration(user_type_id);
}

void VerificationCache::InvalidateTenant(const std::string& tenant_id) {
  BumpGeneration(tenant_id);
}

void VerificationCache::ClearLocked(Shard& shard) {
  // Only a shard that holds entries has tags to clear: zeroing the others would map every page
  // of the arena (InvalidateAll runs on every change another process makes). The entries stay
  // as they are: a free position's entry is never read.
  if (shard.live != 0) std::fill(shard.tags.begin(), shard.tags.end(), 0);
  std::vector<std::uint32_t>().swap(shard.by_id);
  shard.live = 0;
  shard.hand = 0;
  shard.negatives.reset();
}

void VerificationCache::InvalidateAll() {
  epoch_.fetch_add(1);
  for (std::size_t s = 0; s < kShards; ++s) {
    std::lock_guard lock(shards_[s].mutex);
    ClearLocked(shards_[s]);
  }
}

void VerificationCache::ResetInterner() {
  epoch_.fetch_add(1);
  // The only place holding more than one shard lock; always in index order.
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(kShards);
  for (std::size_t s = 0; s < kShards; ++s) {
    locks.emplace_back(shards_[s].mutex);
    ClearLocked(shards_[s]);
  }
  interner_->Clear();
  intern_resets_.fetch_add(1);
}

std::size_t VerificationCache::size() const {
  std::size_t total = 0;
  for (std::size_t s = 0; s < kShards; ++s) {
    std::lock_guard lock(shards_[s].mutex);
    total += shards_[s].live;
  }
  return total;
}

VerificationCache::Stats VerificationCache::stats() const {
  Stats stats;
  for (std::size_t s = 0; s < kShards; ++s) {
    const Shard& shard = shards_[s];
    std::lock_guard lock(shard.mutex);
    stats.entries += shard.live;
    stats.evictions += shard.evictions;
    if (shard.negatives) {
      for (std::size_t n = 0; n < negative_slots_per_shard_; ++n) {
        if (shard.negatives[n].expires != 0) ++stats.negative_entries;
      }
    }
  }
  stats.interned = interner_->size();
  stats.intern_resets = intern_resets_.load();
  return stats;
}

}  // namespace tokend::service
