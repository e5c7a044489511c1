// HTTPChannel: the protocol of one HTTP/1.1 server connection (Twisted's http.HTTPChannel).
// Site::buildProtocol makes it; applications do not use it directly. See server.hpp for the
// behaviour (ordering, keep-alive, timeouts, errors).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "torsion/core/time.hpp"
#include "torsion/net/producer.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/web/http_parser.hpp"

namespace torsion::web {

class Request;
class Resource;
class Site;

class HTTPChannel final : public Protocol, private RequestParser::Handler, public IProducer {
 public:
  explicit HTTPChannel(Site& site);
  ~HTTPChannel() override;

  void connectionMade() override;
  void dataReceived(std::string_view data) override;
  void connectionLost(const Failure& reason) override;

  // Reading the connection, for a streaming request body's backpressure.
  void pauseProducing() override;
  void resumeProducing() override;
  void stopProducing() override;

  // ---- for Request ------------------------------------------------------------------------
  // Whether the current request's body has been read completely.
  bool requestBodyComplete() const noexcept { return messageComplete_; }
  // The response head is `head`; send it with `body` (one write).
  void send(std::string_view head, std::string_view body);
  // One chunk of a chunked body.
  void sendChunk(std::string_view data);
  // Writes what was gathered while reading (see out_). Anything that reaches the transport
  // past the channel (sendfile, a producer, loseConnection) calls this first.
  void flushOutput();
  // The response to `request` is finished and written.
  void requestFinished(Request& request);

 private:
  void onRequestHead(const RequestHead& head) override;
  void onBody(std::string_view data) override;
  void onMessageComplete() override;

  // Feeds the parser with responses gathered in out_, then writes them.
  void process(std::string_view data);
  void feed(std::string_view data);
  // Appends to out_ while gathering, else writes now (in order after out_).
  void output(std::span<const std::string_view> pieces);
  void closeConnection();
  // Keeps pipelined bytes until the current response is finished; pauses reading past
  // SiteOptions::maxPipelinedBytes.
  void holdPipelined(std::string_view data);
  void render();
  void respondError(int status, std::string_view reason);
  void armIdleTimer();
  void armHeaderTimer();
  void cancelTimers();
  void writeAccessLog(const Request& request);

  Site& site_;
  RequestParser parser_;
  std::shared_ptr<Request> current_;
  std::shared_ptr<Request> spare_;  // the last finished request, reused when nobody holds it
  std::shared_ptr<Resource> resource_;
  bool streaming_ = false;
  bool messageComplete_ = false;
  bool closing_ = false;
  bool inFeed_ = false;
  bool readingPaused_ = false;  // by the pipelining bound
  bool bodyPaused_ = false;     // by a streaming body's receiver
  bool gathering_ = false;      // inside process(): responses go to out_
  std::string pending_;         // pipelined bytes waiting for the current response
  // Responses written while one read is processed go out in one write at its end, so the
  // answers to pipelined requests share a send (and a TCP segment) instead of one each.
  std::string out_;
  DelayedCall idleCall_;
  DelayedCall headerCall_;
};

}  // namespace torsion::web
