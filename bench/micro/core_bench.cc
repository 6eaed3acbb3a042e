// The work a verification does before touching the store: parse + checksum, keyed hash,
// permission checks; and the cost of minting a token.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/rules.h"
#include "core/token_format.h"

namespace tokend::core {
namespace {

void BM_ParseToken(benchmark::State& state) {
  const std::string token = GenerateToken(TokenKind::kApi);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseToken(token));
  }
}
BENCHMARK(BM_ParseToken);

void BM_ParseTokenMalformedChecksum(benchmark::State& state) {
  std::string token = GenerateToken(TokenKind::kApi);
  token.back() = token.back() == 'A' ? 'B' : 'A';
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseToken(token));
  }
}
BENCHMARK(BM_ParseTokenMalformedChecksum);

void BM_Base62Crc32(benchmark::State& state) {
  const std::string data = GenerateToken(TokenKind::kApi).substr(0, 47);
  for (auto _ : state) {
    benchmark::DoNotOptimize(Base62Crc32(data));
  }
}
BENCHMARK(BM_Base62Crc32);

void BM_LookupHash(benchmark::State& state) {
  const ServerKey key = ServerKey::Generate();
  const std::string token = GenerateToken(TokenKind::kApi);
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.LookupHash(token));
  }
}
BENCHMARK(BM_LookupHash);

void BM_ParseAndHash(benchmark::State& state) {
  const ServerKey key = ServerKey::Generate();
  const std::string token = GenerateToken(TokenKind::kApi);
  for (auto _ : state) {
    if (ParseToken(token)) benchmark::DoNotOptimize(key.LookupHash(token));
  }
}
BENCHMARK(BM_ParseAndHash);

void BM_GenerateToken(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(GenerateToken(TokenKind::kApi));
  }
}
BENCHMARK(BM_GenerateToken);

void BM_SealToken(benchmark::State& state) {
  const ServerKey key = ServerKey::Generate();
  const std::string token = GenerateToken(TokenKind::kApi);
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.Seal(token, "tenant-id/token-id"));
  }
}
BENCHMARK(BM_SealToken);

void BM_PermissionSubset(benchmark::State& state) {
  PermissionSet mine = PermissionSet::Of(
      {Permission::kTokensRead, Permission::kTokensWrite, Permission::kUsersRead});
  PermissionSet wanted = PermissionSet::Of({Permission::kTokensRead});
  for (auto _ : state) {
    // Forces the sets to be re-read each time; otherwise the check folds to a constant.
    benchmark::DoNotOptimize(mine);
    benchmark::DoNotOptimize(wanted);
    benchmark::DoNotOptimize(wanted.IsSubsetOf(mine));
    benchmark::DoNotOptimize(mine.Has(Permission::kTokensWrite));
  }
}
BENCHMARK(BM_PermissionSubset);

void BM_PermissionScopeString(benchmark::State& state) {
  const PermissionSet all = PermissionSet::All();
  for (auto _ : state) {
    benchmark::DoNotOptimize(all.ToScopeString());
  }
}
BENCHMARK(BM_PermissionScopeString);

// A tree of `depth` levels below the root, each level with `fanout` departments; the caller
// sits at depth 1 and the target at the deepest level of its branch.
DepartmentTree MakeTree(int depth, int fanout, std::string* caller, std::string* target) {
  std::vector<Department> departments;
  departments.push_back(Department{"root", "t", "root", std::nullopt, {}});
  std::vector<std::string> level = {"root"};
  for (int d = 1; d <= depth; ++d) {
    std::vector<std::string> next;
    for (const std::string& parent : level) {
      for (int f = 0; f < fanout; ++f) {
        std::string id = parent + "." + std::to_string(f);
        departments.push_back(Department{id, "t", id, parent, {}});
        next.push_back(id);
      }
    }
    level = std::move(next);
  }
  *caller = "root.0";
  *target = level.front();
  return DepartmentTree(std::move(departments));
}

void BM_CheckNoEscalation(benchmark::State& state) {
  std::string caller_department, target;
  const DepartmentTree tree =
      MakeTree(static_cast<int>(state.range(0)), 3, &caller_department, &target);
  Principal caller;
  caller.department_id = caller_department;
  caller.permissions = PermissionSet::All();
  const PermissionSet wanted = PermissionSet::Of({Permission::kTokensRead});
  for (auto _ : state) {
    benchmark::DoNotOptimize(CheckNoEscalation(caller, tree, target, wanted));
  }
  state.SetLabel(std::to_string(tree.all().size()) + " departments");
}
BENCHMARK(BM_CheckNoEscalation)->Arg(2)->Arg(5)->Arg(8);

void BM_BuildDepartmentTree(benchmark::State& state) {
  std::string caller, target;
  const DepartmentTree tree = MakeTree(static_cast<int>(state.range(0)), 3, &caller, &target);
  for (auto _ : state) {
    benchmark::DoNotOptimize(DepartmentTree(tree.all()));
  }
  state.SetLabel(std::to_string(tree.all().size()) + " departments");
}
BENCHMARK(BM_BuildDepartmentTree)->Arg(2)->Arg(5);

}  // namespace
}  // namespace tokend::core

int main(int argc, char** argv) {
  if (!tokend::core::InitCrypto()) {
    std::fprintf(stderr, "libsodium failed to initialise\n");
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
