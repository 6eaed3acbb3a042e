#include "service/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace tokend::service {

namespace {

std::string Errno() { return std::strerror(errno); }

// Closes the descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

core::Error KeyError(const std::string& message) {
  core::Error error = core::FailedPrecondition(message);
  error.log_detail = message;
  return error;
}

core::Result<core::ServerKey> ReadKey(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return tl::unexpected(KeyError("Cannot open key file " + path + ": " + Errno()));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return tl::unexpected(KeyError("Cannot stat key file " + path + ": " + Errno()));
  }
  if (!S_ISREG(st.st_mode)) {
    return tl::unexpected(KeyError("Key file " + path + " is not a regular file."));
  }
  // Anyone who reads the key can forge lookup hashes and open every sealed token copy.
  if ((st.st_mode & 0077) != 0) {
    return tl::unexpected(
        KeyError("Key file " + path + " is accessible to other users; run: chmod 600 " + path));
  }
  if (static_cast<std::size_t>(st.st_size) != core::kServerKeyBytes) {
    return tl::unexpected(KeyError("Key file " + path + " must hold exactly " +
                                   std::to_string(core::kServerKeyBytes) + " bytes, found " +
                                   std::to_string(st.st_size) + "."));
  }
  std::string bytes(core::kServerKeyBytes, '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return tl::unexpected(KeyError("Cannot read key file " + path + "."));
    done += static_cast<std::size_t>(n);
  }
  return core::ServerKey(bytes);
}

core::Result<void> CreateParents(const std::filesystem::path& dir) {
  if (dir.empty()) return core::Ok();
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) return core::Ok();
  if (auto ok = CreateParents(dir.parent_path()); !ok) return ok;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return tl::unexpected(KeyError("Cannot create directory " + dir.string() + ": " + Errno()));
  }
  return core::Ok();
}

}  // namespace

core::Result<core::ServerKey> LoadOrCreateServerKey(const std::string& path) {
  if (path.empty()) return tl::unexpected(KeyError("The key file path is empty."));
  if (::access(path.c_str(), F_OK) == 0) return ReadKey(path);

  if (auto ok = CreateParents(std::filesystem::path(path).parent_path()); !ok) {
    return tl::unexpected(ok.error());
  }
  core::ServerKey key = core::ServerKey::Generate();
  // O_EXCL: when two processes start at once, one creates and the other reads its key.
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) return ReadKey(path);
    return tl::unexpected(KeyError("Cannot create key file " + path + ": " + Errno()));
  }
  // The umask may have removed bits but never adds any; still state the mode explicitly.
  ::fchmod(fd.get(), 0600);
  std::string_view raw = key.raw();
  std::size_t done = 0;
  while (done < raw.size()) {
    ssize_t n = ::write(fd.get(), raw.data() + done, raw.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::unlink(path.c_str());
      return tl::unexpected(KeyError("Cannot write key file " + path + ": " + Errno()));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    ::unlink(path.c_str());
    return tl::unexpected(KeyError("Cannot sync key file " + path + ": " + Errno()));
  }
  return key;
}

}  // namespace tokend::service
