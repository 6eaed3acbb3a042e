// The per-request work of verification above core: the verification cache at 10k / 1M / 10M
// cached tokens (with the memory each cached token costs), TokenService::Verify on a cache hit
// and on a miss served by SQLite at 1,000,000 stored tokens, the permission check of
// /auth/verify and the JSON shaping of an introspection answer. docs/performance.md has the
// figures and what limits each.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/permission.h"
#include "core/time_format.h"
#include "core/token_format.h"
#include "service/activity.h"
#include "service/bootstrap.h"
#include "service/context.h"
#include "service/token_service.h"
#include "service/verification_cache.h"
#include "store/store.h"

namespace tokend::service {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "bench setup failed: %s\n", what.c_str());
  std::abort();
}
std::string Describe(const core::Error& error) {
  std::string text = error.public_message + " [" + error.log_detail + "]";
  for (const auto& field : error.fields) text += " " + field.field + ": " + field.message;
  return text;
}

// --- Memory ----------------------------------------------------------------------------------

std::size_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// Bytes handed out by malloc (small blocks plus mmap-ed large ones).
std::size_t HeapBytes() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// --- Keys and ids, made up deterministically and without storing them -----------------------

std::uint64_t SplitMix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A stand-in for the 32-byte keyed BLAKE2b lookup hash of token i: uniformly random bytes.
void KeyOf(std::uint64_t i, char* out) {
  for (std::uint64_t k = 0; k < 4; ++k) {
    const std::uint64_t v = SplitMix(i * 4 + k);
    std::memcpy(out + 8 * k, &v, 8);
  }
}

// A 20-character base62 id, as core::NewId makes (the content does not matter here).
std::string IdOf(char kind, std::uint64_t i) {
  static constexpr char kDigits[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string id(20, kind);
  std::uint64_t v = SplitMix(i ^ (static_cast<std::uint64_t>(kind) << 56));
  for (std::size_t k = 1; k < id.size(); ++k) {
    id[k] = kDigits[v % 62];
    v = v / 62 == 0 ? SplitMix(v + k) : v / 62;
  }
  return id;
}

// --- The verification cache at scale ---------------------------------------------------------

// Tokens spread like a large deployment's: one tenant, 100 departments, 10 user types, two
// tokens per user (an API token and a phone, say).
constexpr std::uint64_t kDepartments = 100;
constexpr std::uint64_t kUserTypes = 10;
constexpr std::uint64_t kTokensPerUser = 2;

// Cached token i of such a deployment, as a fill from the store would make it.
CachedCredential SyntheticCredential(std::uint64_t i, core::Time now) {
  const std::uint64_t user = i / kTokensPerUser;
  CachedCredential credential;
  core::Principal& p = credential.principal;
  p.tenant_id = IdOf('T', 0);
  p.user_id = IdOf('U', user);
  p.username = "user" + std::to_string(user);
  p.department_id = IdOf('D', user % kDepartments);
  p.user_type_id = IdOf('Y', user % kUserTypes);
  p.permissions = core::PermissionSet::Of(
      {core::Permission::kTokensRead, core::Permission::kUsersRead, core::Permission::kIntrospect});
  p.token = core::Principal::TokenRef{IdOf('K', i), core::TokenKind::kApi, now + core::days{90},
                                      now - core::days{1}};
  return credential;
}

// Room for `tokens` in one cache: shards fill unevenly (binomially), so 10% more than the
// tokens plus 64 per shard for small caches, whose relative spread is larger. The TTL is long
// enough that nothing expires while a benchmark runs; it is still checked.
VerificationCacheOptions RoomFor(std::uint64_t tokens) {
  VerificationCacheOptions options;
  options.capacity = tokens + tokens / 10 + 64 * VerificationCache::kShards;
  options.ttl = core::hours{1};
  return options;
}

struct FilledCache {
  core::SystemClock clock;
  std::unique_ptr<VerificationCache> cache;
  std::uint64_t tokens = 0;
  double rss_per_token = 0;
  double heap_per_token = 0;
  double fill_seconds = 0;
};

// One filled cache at a time (10M tokens take ~1.3 GB): kept across the benchmarks and
// repetitions of one size, replaced when another size is asked for.
FilledCache& CacheWith(std::uint64_t tokens) {
  static std::unique_ptr<FilledCache> filled;
  if (filled && filled->tokens == tokens) return *filled;
  filled.reset();
  malloc_trim(0);
  const std::size_t rss_before = RssBytes();
  const std::size_t heap_before = HeapBytes();
  auto started = std::chrono::steady_clock::now();

  filled = std::make_unique<FilledCache>();
  filled->tokens = tokens;
  filled->cache = std::make_unique<VerificationCache>(filled->clock, RoomFor(tokens));

  const core::Time now = filled->clock.Now();
  char key[32];
  for (std::uint64_t i = 0; i < tokens; ++i) {
    KeyOf(i, key);
    filled->cache->Put({key, sizeof key}, SyntheticCredential(i, now), filled->cache->BeginFill());
  }
  filled->fill_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::size_t cached = filled->cache->size();
  if (cached != tokens) {
    std::fprintf(stderr, "cache holds %zu of %llu tokens\n", cached,
                 static_cast<unsigned long long>(tokens));
    std::abort();
  }
  filled->rss_per_token = static_cast<double>(RssBytes() - rss_before) / tokens;
  filled->heap_per_token = static_cast<double>(HeapBytes() - heap_before) / tokens;
  return *filled;
}

void ReportMemory(benchmark::State& state, const FilledCache& filled) {
  state.counters["rss_B_per_token"] = filled.rss_per_token;
  state.counters["heap_B_per_token"] = filled.heap_per_token;
  state.counters["fill_s"] = filled.fill_seconds;
}

// Lookup only: key -> VerifiedToken (views into its own storage; no allocation). Keys are
// drawn uniformly, so at 1M and 10M nearly every lookup misses the CPU caches: the figure is
// dominated by DRAM latency (index slot, entry, interned strings).
void BM_CacheFind(benchmark::State& state) {
  FilledCache& filled = CacheWith(static_cast<std::uint64_t>(state.range(0)));
  std::uint64_t x = 12345;
  char key[32];
  VerifiedToken token;
  for (auto _ : state) {
    x = SplitMix(x);
    KeyOf(x % filled.tokens, key);
    auto outcome = filled.cache->Find({key, sizeof key}, token);
    benchmark::DoNotOptimize(outcome);
    benchmark::DoNotOptimize(token.user_id.data());
  }
  ReportMemory(state, filled);
}
BENCHMARK(BM_CacheFind)->Arg(10'000)->Arg(1'000'000)->Arg(10'000'000);

// Lookup plus materialising a core::Principal (six std::string copies), as Verify does.
void BM_CacheHitPrincipal(benchmark::State& state) {
  FilledCache& filled = CacheWith(static_cast<std::uint64_t>(state.range(0)));
  std::uint64_t x = 12345;
  char key[32];
  for (auto _ : state) {
    x = SplitMix(x);
    KeyOf(x % filled.tokens, key);
    VerifiedToken token;
    if (filled.cache->Find({key, sizeof key}, token) != VerificationCache::Outcome::kHit) {
      state.SkipWithError("miss");
      break;
    }
    core::Principal principal = token.ToPrincipal();
    benchmark::DoNotOptimize(principal);
  }
  ReportMemory(state, filled);
}
BENCHMARK(BM_CacheHitPrincipal)->Arg(10'000)->Arg(1'000'000)->Arg(10'000'000);

// The cost of the key generation included in the two above, to subtract.
void BM_KeyGeneration(benchmark::State& state) {
  std::uint64_t x = 12345;
  char key[32];
  for (auto _ : state) {
    x = SplitMix(x);
    KeyOf(x % 10'000'000, key);
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_KeyGeneration);

// --- TokenService on a real SQLite store -------------------------------------------------------

// A temp-file SQLite store with one tenant (bootstrap: root department, admin user type, admin).
struct StoreFixture {
  std::filesystem::path dir;
  core::SystemClock clock;
  core::ServerKey key = core::ServerKey::Generate();
  std::unique_ptr<store::Store> store;
  TenantSeed seed;

  StoreFixture() {
    char pattern[] = "/tmp/tokend-bench-XXXXXX";
    if (mkdtemp(pattern) == nullptr) Fail("mkdtemp");
    dir = pattern;
    auto opened = store::OpenStore("sqlite://" + (dir / "tokend.db").string());
    if (!opened) Fail("open: " + Describe(opened.error()));
    store = std::move(*opened);
    if (auto migrated = store->Migrate(); !migrated) Fail("migrate: " + Describe(migrated.error()));
    auto created = CreateTenantWithAdmin(*store, clock, core::PasswordHasher::Fast(), "bench",
                                         "admin", "a long bench password");
    if (!created) Fail("tenant: " + Describe(created.error()));
    seed = *created;
  }
  ~StoreFixture() {
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  std::string CreateToken(TokenService& tokens) {
    const std::string expires = core::FormatRfc3339(clock.Now() + core::days{90});
    CreateApiTokenInput input{
        "bench", "", expires, seed.admin_user_id, seed.root_department_id, seed.admin_user_type_id};
    auto created = tokens.CreateApiToken(CliPrincipal(seed.tenant_id, seed.root_department_id),
                                         input, RequestContext{"cli", ""});
    if (!created) Fail("token: " + Describe(created.error()));
    return created->secret;
  }

  // Inserts `count` API tokens of the admin straight into the tokens table: one transaction,
  // one prepared statement (Store::CreateToken commits per token and appends an audit event;
  // 1M of those take minutes). Returns every `sample_every`-th secret.
  std::vector<std::string> Seed(std::size_t count, std::size_t sample_every) {
    sqlite3* db = nullptr;
    const std::string path = (dir / "tokend.db").string();
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) std::abort();
    sqlite3_exec(db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; BEGIN", nullptr,
                 nullptr, nullptr);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO tokens (tenant_id, id, kind, name, description, "
                           "lookup_hash, token_hint, user_id, department_id, user_type_id, "
                           "device_name, created_at, expires_at) "
                           "VALUES (?, ?, 1, ?, '', ?, ?, ?, ?, ?, '', ?, ?)",
                           -1, &stmt, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
      std::abort();
    }
    const std::int64_t now = core::ToUnixSeconds(clock.Now());
    std::vector<std::string> sample;
    for (std::size_t i = 0; i < count; ++i) {
      const std::string secret = core::GenerateToken(core::TokenKind::kApi);
      const std::string hash = key.LookupHash(secret);
      const std::string id = core::NewId();
      const std::string name = "seeded " + std::to_string(i);
      const std::string hint = core::TokenHint(secret);
      sqlite3_bind_text(stmt, 1, seed.tenant_id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(stmt, 2, id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(stmt, 3, name.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_blob(stmt, 4, hash.data(), static_cast<int>(hash.size()), SQLITE_STATIC);
      sqlite3_bind_text(stmt, 5, hint.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(stmt, 6, seed.admin_user_id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(stmt, 7, seed.root_department_id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(stmt, 8, seed.admin_user_type_id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_int64(stmt, 9, now);
      sqlite3_bind_int64(stmt, 10, now + 90 * 86400);
      if (sqlite3_step(stmt) != SQLITE_DONE) {
        std::fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
        std::abort();
      }
      sqlite3_reset(stmt);
      if (i % sample_every == 0) sample.push_back(secret);
    }
    sqlite3_finalize(stmt);
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) std::abort();
    sqlite3_close(db);
    return sample;
  }
};

const RequestContext kContext{"192.0.2.7", ""};

// Verify on a cache hit, as the server runs it: parse + checksum, keyed BLAKE2b, cache lookup,
// expiry check, activity recorded write-behind, Principal built. One token, so the entry is in
// the CPU caches: add BM_CacheFind's miss latency for a large cache.
void BM_VerifyCachedToken(benchmark::State& state) {
  StoreFixture fixture;
  ActivityRecorder activity(*fixture.store);
  VerificationCache cache(fixture.clock);
  TokenServiceOptions options;
  options.activity = &activity;
  options.cache = &cache;
  TokenService tokens(*fixture.store, fixture.clock, fixture.key, options);
  const std::string secret = fixture.CreateToken(tokens);
  if (!tokens.Verify(secret, kContext)) state.SkipWithError("verify failed");
  for (auto _ : state) {
    auto principal = tokens.Verify(secret, kContext);
    benchmark::DoNotOptimize(principal);
  }
}
BENCHMARK(BM_VerifyCachedToken);

// The same through VerifyInto: no Principal, no string copies on the hit.
void BM_VerifyIntoCachedToken(benchmark::State& state) {
  StoreFixture fixture;
  ActivityRecorder activity(*fixture.store);
  VerificationCache cache(fixture.clock);
  TokenServiceOptions options;
  options.activity = &activity;
  options.cache = &cache;
  TokenService tokens(*fixture.store, fixture.clock, fixture.key, options);
  const std::string secret = fixture.CreateToken(tokens);
  for (auto _ : state) {
    VerifiedToken token;
    auto ok = tokens.VerifyInto(secret, kContext, token);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(token.user_id.data());
  }
}
BENCHMARK(BM_VerifyIntoCachedToken);

// The whole in-process path of a cached verification at scale, as a request runs it: parse +
// checksum, keyed BLAKE2b, a cache hit among `n` cached tokens (DRAM misses at 1M and 10M),
// the expiry check and the activity record (write-behind, flushing in the background as in
// the server). Real secrets, drawn uniformly. The target: under 1 us at 10M.
struct VerifyAtScale {
  StoreFixture fixture;
  ActivityRecorder activity{*fixture.store};
  std::unique_ptr<VerificationCache> cache;
  std::unique_ptr<TokenService> tokens;
  std::uint64_t count = 0;
  std::string secrets;  // `count` secrets of `secret_chars` each, back to back
  std::size_t secret_chars = 0;
};

VerifyAtScale& VerifyFixtureWith(std::uint64_t count) {
  static std::unique_ptr<VerifyAtScale> fixture;
  if (fixture && fixture->count == count) return *fixture;
  fixture.reset();
  malloc_trim(0);
  fixture = std::make_unique<VerifyAtScale>();
  VerifyAtScale& f = *fixture;
  f.count = count;
  f.cache = std::make_unique<VerificationCache>(f.fixture.clock, RoomFor(count));
  TokenServiceOptions options;
  options.activity = &f.activity;
  options.cache = f.cache.get();
  f.tokens =
      std::make_unique<TokenService>(*f.fixture.store, f.fixture.clock, f.fixture.key, options);
  const core::Time now = f.fixture.clock.Now();
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string secret = core::GenerateToken(core::TokenKind::kApi);
    if (f.secret_chars == 0) {
      f.secret_chars = secret.size();
      f.secrets.reserve(count * secret.size());
    }
    f.secrets += secret;
  }
  // Filled in another order than the benchmark walks the secrets: a shard keeps its entries in
  // fill order, so walking in fill order would find each entry beside the last one of its shard.
  std::vector<std::uint32_t> fill_order(count);
  std::iota(fill_order.begin(), fill_order.end(), 0);
  std::shuffle(fill_order.begin(), fill_order.end(), std::mt19937_64{42});
  for (std::uint32_t i : fill_order) {
    const std::string_view secret(f.secrets.data() + std::size_t{i} * f.secret_chars,
                                  f.secret_chars);
    f.cache->Put(f.fixture.key.LookupHash(secret), SyntheticCredential(i, now),
                 f.cache->BeginFill());
  }
  if (f.cache->size() != count) Fail("the cache does not hold every token");
  return f;
}

void BM_VerifyIntoCachedAtScale(benchmark::State& state) {
  VerifyAtScale& f = VerifyFixtureWith(static_cast<std::uint64_t>(state.range(0)));
  // Secrets in order, each fetched a few iterations ahead: where a token sits in the cache is
  // random anyway (its lookup hash picks the shard and position), while reading the secret
  // from a 550 MB array would add a DRAM miss that a server, whose secret is in the request it
  // has just read, never has.
  std::uint64_t next = 0;
  VerifiedToken token;
  for (auto _ : state) {
    const std::string_view secret(f.secrets.data() + next * f.secret_chars, f.secret_chars);
    next = next + 1 == f.count ? 0 : next + 1;
    __builtin_prefetch(f.secrets.data() + ((next + 8) % f.count) * f.secret_chars);
    auto ok = f.tokens->VerifyInto(secret, kContext, token);
    if (!ok) {
      state.SkipWithError("verification failed");
      break;
    }
    benchmark::DoNotOptimize(token.user_id.data());
  }
}
BENCHMARK(BM_VerifyIntoCachedAtScale)->Arg(10'000)->Arg(1'000'000)->Arg(10'000'000);

// Verify with the cache off, at 1,000,000 stored tokens: every call is a FindCredential
// (a join of tokens, tenants, users, user types and memberships by the lookup hash's unique
// index). Tokens are drawn from a sample of 10,000 spread over the whole key space.
void BM_VerifyFromSqlite(benchmark::State& state) {
  // Seeded once per process: the benchmark function runs several times (iteration count
  // estimation, repetitions).
  struct Seeded {
    StoreFixture fixture;
    std::vector<std::string> sample;
    double seed_seconds = 0;
  };
  static std::map<std::size_t, std::unique_ptr<Seeded>> seeded;
  const auto rows = static_cast<std::size_t>(state.range(0));
  std::unique_ptr<Seeded>& data = seeded[rows];
  if (!data) {
    data = std::make_unique<Seeded>();
    auto started = std::chrono::steady_clock::now();
    data->sample = data->fixture.Seed(rows, rows / 10'000);
    data->seed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  StoreFixture& fixture = data->fixture;
  const std::vector<std::string>& sample = data->sample;
  ActivityRecorder activity(*fixture.store);
  TokenServiceOptions options;
  options.activity = &activity;
  TokenService tokens(*fixture.store, fixture.clock, fixture.key, options);
  std::size_t next = 0;
  for (auto _ : state) {
    auto principal = tokens.Verify(sample[next], kContext);
    if (!principal) {
      state.SkipWithError("verify failed");
      break;
    }
    benchmark::DoNotOptimize(principal);
    next = next + 1 == sample.size() ? 0 : next + 1;
  }
  state.counters["seed_s"] = data->seed_seconds;
}
BENCHMARK(BM_VerifyFromSqlite)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

// --- After verification: what /auth/verify and /oauth2/introspect do with the answer ---------

// GET /auth/verify?permission=users:write: parse the query value, test the bit.
void BM_PermissionCheck(benchmark::State& state) {
  core::PermissionSet held = core::PermissionSet::Of(
      {core::Permission::kTokensRead, core::Permission::kUsersRead, core::Permission::kUsersWrite});
  std::string wanted = "users:write";
  for (auto _ : state) {
    benchmark::DoNotOptimize(wanted);
    auto permission = core::ParsePermission(wanted);
    benchmark::DoNotOptimize(permission && held.Has(*permission));
  }
}
BENCHMARK(BM_PermissionCheck);

core::Principal SamplePrincipal() {
  core::Principal p;
  p.tenant_id = IdOf('T', 1);
  p.user_id = IdOf('U', 1);
  p.username = "integration-bot";
  p.department_id = IdOf('D', 1);
  p.user_type_id = IdOf('Y', 1);
  p.permissions = core::PermissionSet::Of(
      {core::Permission::kTokensRead, core::Permission::kUsersRead, core::Permission::kIntrospect});
  p.token = core::Principal::TokenRef{IdOf('K', 1), core::TokenKind::kApi,
                                      core::FromUnixSeconds(1'800'000'000),
                                      core::FromUnixSeconds(1'700'000'000)};
  return p;
}

// The RFC 7662 answer as src/http/handlers_identity.cc shapes it: Boost.JSON object, serialised.
void BM_IntrospectionJson(benchmark::State& state) {
  const core::Principal p = SamplePrincipal();
  for (auto _ : state) {
    boost::json::object body{{"active", true},
                             {"token_type", "Bearer"},
                             {"sub", p.user_id},
                             {"username", p.username},
                             {"exp", core::ToUnixSeconds(p.token->expires_at)},
                             {"iat", core::ToUnixSeconds(p.token->issued_at)},
                             {"scope", p.permissions.ToScopeString()},
                             {"tenant_id", p.tenant_id},
                             {"department_id", p.department_id},
                             {"user_type_id", p.user_type_id}};
    std::string text = boost::json::serialize(body);
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_IntrospectionJson);

// The X-Auth-Permissions header of /auth/verify.
void BM_PermissionsHeader(benchmark::State& state) {
  const core::Principal p = SamplePrincipal();
  for (auto _ : state) {
    benchmark::DoNotOptimize(p.permissions.ToScopeString());
  }
}
BENCHMARK(BM_PermissionsHeader);

}  // namespace
}  // namespace tokend::service
