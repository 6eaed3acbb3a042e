#include "service/verification_cache.h"

#include <algorithm>
#include <functional>

namespace tokend::service {

VerificationCache::VerificationCache(const core::Clock& clock, VerificationCacheOptions options)
    : clock_(clock),
      options_(options),
      shard_capacity_(std::max<std::size_t>(1, options.capacity / kShards)) {}

VerificationCache::Shard& VerificationCache::ShardFor(const std::string& lookup_hash) {
  // Lookup hashes are keyed BLAKE2b output: any byte is uniformly distributed.
  std::size_t index = lookup_hash.empty() ? 0 : static_cast<unsigned char>(lookup_hash[0]);
  return shards_[index % kShards];
}

std::atomic<std::uint64_t>* VerificationCache::TenantGeneration(const std::string& tenant_id) {
  std::lock_guard lock(generations_mutex_);
  auto& counter = generations_[tenant_id];
  if (!counter) counter = std::make_unique<std::atomic<std::uint64_t>>(0);
  return counter.get();
}

VerificationCache::Ticket VerificationCache::BeginFill() const { return Ticket{epoch_.load()}; }

VerificationCache::Lookup VerificationCache::Get(const std::string& lookup_hash) {
  core::Time now = clock_.Now();
  Shard& shard = ShardFor(lookup_hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(lookup_hash);
  if (it == shard.entries.end()) return {};
  Entry& entry = it->second;
  if (now >= entry.expires) {
    EraseLocked(shard, it);
    return {};
  }
  if (entry.negative) return Lookup{Outcome::kNegative, std::nullopt};
  if (entry.tenant_generation->load() != entry.generation) {
    EraseLocked(shard, it);
    return {};
  }
  return Lookup{Outcome::kHit, entry.credential};
}

void VerificationCache::Put(const std::string& lookup_hash, CachedCredential credential,
                            Ticket ticket) {
  Entry entry;
  entry.tenant_generation = TenantGeneration(credential.principal.tenant_id);
  // Read the generation before checking the epoch: invalidations bump the epoch before the
  // generation, so a fill that passes the epoch check below read a generation that any
  // later-completing invalidation will still change.
  entry.generation = entry.tenant_generation->load();
  entry.credential = std::move(credential);
  entry.expires = clock_.Now() + options_.ttl;
  Shard& shard = ShardFor(lookup_hash);
  std::lock_guard lock(shard.mutex);
  if (epoch_.load() != ticket.epoch) return;
  InsertLocked(shard, lookup_hash, std::move(entry));
}

void VerificationCache::PutNegative(const std::string& lookup_hash, Ticket ticket) {
  Entry entry;
  entry.negative = true;
  entry.expires = clock_.Now() + options_.negative_ttl;
  Shard& shard = ShardFor(lookup_hash);
  std::lock_guard lock(shard.mutex);
  if (epoch_.load() != ticket.epoch) return;
  InsertLocked(shard, lookup_hash, std::move(entry));
}

void VerificationCache::ExtendExpiry(const std::string& lookup_hash, core::Time expires_at) {
  Shard& shard = ShardFor(lookup_hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(lookup_hash);
  if (it == shard.entries.end() || it->second.negative) return;
  auto& token = it->second.credential->principal.token;
  if (token && token->expires_at < expires_at) token->expires_at = expires_at;
}

void VerificationCache::InsertLocked(Shard& shard, const std::string& lookup_hash, Entry entry) {
  auto existing = shard.entries.find(lookup_hash);
  if (existing != shard.entries.end()) EraseLocked(shard, existing);
  // Every entry of a shard has the same TTL, so the oldest is also the first to expire.
  while (shard.entries.size() >= shard_capacity_ && !shard.order.empty()) {
    EraseLocked(shard, shard.entries.find(shard.order.front()));
  }
  shard.order.push_back(lookup_hash);
  entry.order = std::prev(shard.order.end());
  shard.entries.emplace(lookup_hash, std::move(entry));
}

void VerificationCache::EraseLocked(Shard& shard,
                                    std::unordered_map<std::string, Entry>::iterator it) {
  shard.order.erase(it->second.order);
  shard.entries.erase(it);
}

void VerificationCache::OnTokenCreated(const std::string& lookup_hash) {
  InvalidateLookupHash(lookup_hash);
}

void VerificationCache::InvalidateLookupHash(const std::string& lookup_hash) {
  epoch_.fetch_add(1);
  Shard& shard = ShardFor(lookup_hash);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(lookup_hash);
  if (it != shard.entries.end()) EraseLocked(shard, it);
}

void VerificationCache::InvalidateTokenId(const std::string& token_id) {
  epoch_.fetch_add(1);
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (auto it = shard.entries.begin(); it != shard.entries.end();) {
      auto next = std::next(it);
      const Entry& entry = it->second;
      if (!entry.negative && entry.credential->principal.token &&
          entry.credential->principal.token->id == token_id) {
        EraseLocked(shard, it);
      }
      it = next;
    }
  }
}

void VerificationCache::BumpTenant(const std::string& tenant_id) {
  epoch_.fetch_add(1);
  TenantGeneration(tenant_id)->fetch_add(1);
}

void VerificationCache::InvalidateUser(const std::string& tenant_id, const std::string&) {
  BumpTenant(tenant_id);
}

void VerificationCache::InvalidateUserType(const std::string& tenant_id, const std::string&) {
  BumpTenant(tenant_id);
}

void VerificationCache::InvalidateTenant(const std::string& tenant_id) { BumpTenant(tenant_id); }

void VerificationCache::InvalidateAll() {
  epoch_.fetch_add(1);
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    shard.entries.clear();
    shard.order.clear();
  }
}

std::size_t VerificationCache::size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.entries.size();
  }
  return total;
}

}  // namespace tokend::service
