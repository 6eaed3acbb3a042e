#include "core/rules.h"

#include <algorithm>
#include <deque>

namespace tokend::core {

TokenState StateAt(const Token& token, Time now) {
  if (token.revoked_at.has_value()) return TokenState::kRevoked;
  if (now >= token.expires_at) return TokenState::kExpired;
  return TokenState::kActive;
}

DepartmentTree::DepartmentTree(std::vector<Department> departments)
    : departments_(std::move(departments)) {
  for (std::size_t i = 0; i < departments_.size(); ++i) {
    // A duplicate id keeps its first entry; the later one is unreachable.
    index_.emplace(departments_[i].id, i);
  }
  for (std::size_t i = 0; i < departments_.size(); ++i) {
    const Department& d = departments_[i];
    if (index_.at(d.id) != i) continue;
    if (!d.parent_id) {
      // More than one root breaks the invariant: the first wins, the others stay outside.
      if (root_id_.empty()) root_id_ = d.id;
      continue;
    }
    children_[*d.parent_id].push_back(i);
  }
  // Breadth-first from the root. Each department has one parent, so a department in a cycle
  // or below a missing parent is never reached.
  rooted_.assign(departments_.size(), false);
  if (root_id_.empty()) return;
  std::deque<std::size_t> queue{index_.at(root_id_)};
  rooted_[queue.front()] = true;
  while (!queue.empty()) {
    std::size_t i = queue.front();
    queue.pop_front();
    auto it = children_.find(departments_[i].id);
    if (it == children_.end()) continue;
    for (std::size_t child : it->second) {
      if (rooted_[child]) continue;
      rooted_[child] = true;
      queue.push_back(child);
    }
  }
}

bool DepartmentTree::IsRooted(std::string_view id) const {
  auto it = index_.find(std::string(id));
  return it != index_.end() && rooted_[it->second];
}

const Department* DepartmentTree::Find(std::string_view id) const {
  auto it = index_.find(std::string(id));
  return it == index_.end() ? nullptr : &departments_[it->second];
}

bool DepartmentTree::InSubtree(std::string_view ancestor_id, std::string_view department_id) const {
  if (!IsRooted(ancestor_id) || !IsRooted(department_id)) return false;
  // Rooted departments form a tree, so walking up ends at the root.
  const Department* d = Find(department_id);
  while (d != nullptr) {
    if (d->id == ancestor_id) return true;
    if (!d->parent_id) return false;
    d = Find(*d->parent_id);
  }
  return false;
}

std::vector<std::string> DepartmentTree::Subtree(std::string_view root_id) const {
  std::vector<std::string> out;
  if (!IsRooted(root_id)) return out;
  std::deque<std::size_t> queue{index_.at(std::string(root_id))};
  while (!queue.empty()) {
    std::size_t i = queue.front();
    queue.pop_front();
    out.push_back(departments_[i].id);
    auto it = children_.find(departments_[i].id);
    if (it == children_.end()) continue;
    for (std::size_t child : it->second) {
      if (rooted_[child]) queue.push_back(child);
    }
  }
  return out;
}

bool DepartmentTree::WouldCycle(std::string_view id, std::string_view parent_id) const {
  if (id == parent_id) return true;
  // Walk up from the new parent; bounded so that an existing cycle cannot loop forever
  // (and then counts as a cycle: refusing is the safe answer).
  const Department* d = Find(parent_id);
  for (std::size_t steps = 0; d != nullptr; ++steps) {
    if (steps > departments_.size()) return true;
    if (d->id == id) return true;
    if (!d->parent_id) return false;
    d = Find(*d->parent_id);
  }
  return false;
}

Result<void> CheckNoEscalation(const Principal& caller, const DepartmentTree& tree,
                               std::string_view department_id, PermissionSet permissions) {
  if (!InCallerScope(caller, tree, department_id)) {
    return tl::unexpected(NotFound("Department not found."));
  }
  if (!permissions.IsSubsetOf(caller.permissions)) {
    return tl::unexpected(
        PermissionDenied("You cannot grant a user type with permissions you do not hold."));
  }
  return Ok();
}

bool InCallerScope(const Principal& caller, const DepartmentTree& tree,
                   std::string_view department_id) {
  return tree.InSubtree(caller.department_id, department_id);
}

Result<Time> ValidateApiTokenExpiry(Time requested, Time now, const TenantSettings& settings) {
  if (requested <= now) {
    return tl::unexpected(FieldInvalid("expires_at", "must be in the future"));
  }
  // The limit is the end of the last allowed UTC day, so that the date-only form of that day
  // (which means 23:59:59Z) is accepted.
  Time last_day = std::chrono::floor<days>(now + days{settings.api_token_max_lifetime_days});
  Time limit = last_day + days{1} - seconds{1};
  if (requested > limit) {
    return tl::unexpected(FieldInvalid(
        "expires_at",
        "must be at most " + std::to_string(settings.api_token_max_lifetime_days) + " days ahead"));
  }
  return requested;
}

Time DefaultApiTokenExpiry(Time now, const TenantSettings& settings) {
  int lifetime =
      std::min(settings.api_token_default_lifetime_days, settings.api_token_max_lifetime_days);
  return now + days{lifetime};
}

Time SlideMobileExpiry(Time created_at, Time now, const TenantSettings& settings) {
  return std::min(now + settings.mobile_idle_timeout, created_at + settings.mobile_max_lifetime);
}

namespace {

// Decodes one UTF-8 sequence at `pos`; returns the code point or -1 for invalid input
// (overlong forms, surrogates, values above U+10FFFF, truncated sequences).
long DecodeUtf8(std::string_view s, std::size_t* pos) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char lead = byte(*pos);
  std::size_t length;
  long cp;
  long min;
  if (lead < 0x80) {
    ++*pos;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (s.size() - *pos < length) return -1;
  for (std::size_t i = 1; i < length; ++i) {
    unsigned char b = byte(*pos + i);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *pos += length;
  return cp;
}

bool IsControl(long cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

struct TextRules {
  std::size_t min_chars;
  std::size_t max_chars;
  bool allow_newline;
  bool allow_blank;
};

// Counts characters as code points: what a user sees in a text field, near enough.
std::string CheckText(std::string_view text, const TextRules& rules) {
  std::size_t chars = 0;
  bool blank = true;
  for (std::size_t pos = 0; pos < text.size();) {
    long cp = DecodeUtf8(text, &pos);
    if (cp < 0) return "must be valid UTF-8";
    if (IsControl(cp) && !(rules.allow_newline && cp == '\n')) {
      return "must not contain control characters";
    }
    if (cp != ' ' && cp != '\n') blank = false;
    ++chars;
  }
  if (chars < rules.min_chars || chars > rules.max_chars) {
    if (rules.min_chars == 0)
      return "must be at most " + std::to_string(rules.max_chars) + " characters";
    return "must be " + std::to_string(rules.min_chars) + " to " + std::to_string(rules.max_chars) +
           " characters";
  }
  if (!rules.allow_blank && blank) return "must not be blank";
  return "";
}

}  // namespace

std::string CheckTokenName(std::string_view name) {
  return CheckText(
      name, {.min_chars = 1, .max_chars = 100, .allow_newline = false, .allow_blank = false});
}

std::string CheckDescription(std::string_view text) {
  return CheckText(text,
                   {.min_chars = 0, .max_chars = 1000, .allow_newline = true, .allow_blank = true});
}

std::string CheckUsername(std::string_view username) {
  if (username.empty() || username.size() > 64) return "must be 1 to 64 characters";
  for (char c : username) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-';
    if (!ok) return "may contain only letters, digits and . _ @ -";
  }
  return "";
}

std::string CheckEmail(std::string_view email) {
  if (email.size() < 3 || email.size() > 254) return "must be 3 to 254 characters";
  std::string text_error = CheckText(
      email, {.min_chars = 3, .max_chars = 254, .allow_newline = false, .allow_blank = false});
  if (!text_error.empty()) return text_error;
  std::size_t at = email.find('@');
  bool one_at = at != std::string_view::npos && email.find('@', at + 1) == std::string_view::npos;
  if (!one_at || at == 0 || at + 1 == email.size() || email.find(' ') != std::string_view::npos) {
    return "must be an email address like name@example.com";
  }
  return "";
}

std::string CheckDisplayName(std::string_view name) {
  return CheckText(name,
                   {.min_chars = 0, .max_chars = 100, .allow_newline = false, .allow_blank = true});
}

std::string CheckPassword(std::string_view password) {
  // Bytes, not characters: the hash sees bytes. The upper bound keeps hashing cheap to refuse.
  if (password.size() < 8) return "must be at least 8 characters";
  if (password.size() > 1024) return "must be at most 1024 bytes";
  return "";
}

std::string CheckEntityName(std::string_view name) {
  return CheckText(
      name, {.min_chars = 1, .max_chars = 100, .allow_newline = false, .allow_blank = false});
}

std::string CheckDeviceName(std::string_view name) {
  return CheckText(name,
                   {.min_chars = 0, .max_chars = 100, .allow_newline = false, .allow_blank = true});
}

std::vector<FieldError> CheckTenantSettings(const TenantSettings& settings) {
  std::vector<FieldError> fields;
  // Ten years: beyond it an "expiring" token is a permanent one in all but name.
  if (settings.api_token_max_lifetime_days < 1 || settings.api_token_max_lifetime_days > 3650) {
    fields.push_back({"api_token_max_lifetime_days", "must be 1 to 3650 days"});
  }
  if (settings.api_token_default_lifetime_days < 1 ||
      settings.api_token_default_lifetime_days > settings.api_token_max_lifetime_days) {
    fields.push_back({"api_token_default_lifetime_days",
                      "must be at least 1 day and at most the maximum lifetime"});
  }
  if (settings.mobile_idle_timeout < minutes{5} ||
      settings.mobile_idle_timeout > settings.mobile_max_lifetime) {
    fields.push_back({"mobile_idle_timeout",
                      "must be at least 5 minutes and at most the mobile maximum lifetime"});
  }
  if (settings.mobile_max_lifetime > days{3650}) {
    fields.push_back({"mobile_max_lifetime", "must be at most 3650 days"});
  }
  if (settings.console_idle_timeout < minutes{1} ||
      settings.console_idle_timeout > settings.console_max_lifetime) {
    fields.push_back({"console_idle_timeout",
                      "must be at least 1 minute and at most the console maximum lifetime"});
  }
  // A console session is a bearer of every administrator permission: a day at most.
  if (settings.console_max_lifetime > hours{24}) {
    fields.push_back({"console_max_lifetime", "must be at most 24 hours"});
  }
  return fields;
}

}  // namespace tokend::core
