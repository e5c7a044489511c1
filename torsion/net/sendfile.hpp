// ISendFileTransport: a transport that can send a file's bytes straight from the kernel's page
// cache (sendfile(2)), without copying them through user space. An optional interface: the
// plain TCP and Unix stream connections implement it; TLS, the loopback and StringTransport do
// not. Find it with dynamic_cast and write the bytes yourself when it is absent:
//
//   if (auto* sf = dynamic_cast<ISendFileTransport*>(transport)) { ... }
//
// It is meant for a pull producer (producer.hpp). The transport asks a registered pull
// producer for more each time its write buffer has drained; the producer then calls
// sendFile() for the rest of its range, and sendFile() sends what the socket takes now and
// returns. The transport calls resumeProducing() again once the socket can take more, so the
// file costs no buffer memory however slowly the peer reads:
//
//   void resumeProducing() override {
//     auto r = sendFileTransport->sendFile(fd, offset, remaining);
//     offset += r.sent; remaining -= r.sent;
//     if (r.error != 0) { ...write the bytes yourself, or give up... }
//     if (remaining == 0) { transport->unregisterProducer(); ...done... }
//   }
//
// Ordering: file bytes go out after everything written before the call and before everything
// written after it, because sendFile() sends only while the write buffer is empty. (A call
// made while earlier bytes are still queued sends nothing and returns {0, 0}; the producer's
// next resumeProducing() comes when they are gone.)
#pragma once

#include <cstddef>
#include <cstdint>

namespace torsion {

// What one sendFile() call did.
struct SendFileResult {
  // Bytes of the file sent by this call (0 when the socket or the write buffer is full, or
  // the connection is closing or gone).
  std::size_t sent = 0;
  // 0, or an errno about the file (not the connection):
  //   EINVAL, ENOSYS, EOPNOTSUPP, ESPIPE: this descriptor cannot be sent with sendfile (not a
  //     regular file, or a file system without it; EINVAL also while descriptors passed with
  //     sendFileDescriptor() wait for a written byte): write its bytes instead;
  //   ENODATA: the file ended before offset + count (it shrank meanwhile);
  //   EIO, ENOMEM, EBADF, EOVERFLOW...: reading the file failed.
  // Errors of the connection are not reported here: they lose the connection as a failed
  // write() would, and the producer gets stopProducing().
  int error = 0;
};

class ISendFileTransport {
 public:
  virtual ~ISendFileTransport() = default;

  // Sends up to `count` bytes of the file `fd` starting at `offset`, as much as the socket
  // accepts now, without blocking and without queuing anything; never changes fd's file
  // position. Returns at once with {0, 0} while the write buffer holds earlier bytes, or when
  // the connection's write side is shut, aborting or gone (after loseConnection() it still
  // sends: the close waits for the producer, as for write()). After a call that sent bytes, or
  // found the socket full, a registered pull producer gets resumeProducing() once the socket can
  // take more. Does not take fd: the caller keeps it open for the duration of the call only. Call
  // on the reactor thread.
  virtual SendFileResult sendFile(int fd, std::uint64_t offset, std::size_t count) = 0;
};

}  // namespace torsion
