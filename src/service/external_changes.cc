#include "service/external_changes.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace tokend::service {

ExternalChangeWatcher::ExternalChangeWatcher(store::Store& store, std::function<void()> on_change,
                                             ExternalChangeOptions options)
    : store_(store), on_change_(std::move(on_change)) {
  if (auto version = store_.ExternalChangeVersion(); version) version_ = *version;
  if (options.background) poller_.emplace(options.interval, [this] { Poll(); });
}

bool ExternalChangeWatcher::Poll() {
  auto version = store_.ExternalChangeVersion();
  {
    std::lock_guard lock(mutex_);
    if (version) {
      if (failing_) spdlog::info("external change watch: store readable again");
      failing_ = false;
      const bool changed = !version_ || *version_ != *version;
      version_ = *version;
      if (!changed) return false;
    } else {
      if (!failing_) {
        spdlog::warn(
            "external change watch: cannot read the store's version, dropping cached "
            "verifications until it can: {}",
            version.error().log_detail);
      }
      failing_ = true;
      version_.reset();
    }
  }
  on_change_();
  return true;
}

}  // namespace tokend::service
