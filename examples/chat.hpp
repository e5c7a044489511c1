// The line-based chat server of examples/chat_server.cpp, in a header so that
// tests/examples/chat_test.cpp drives the same classes over the in-memory loopback.
//
// It is the chat server of Twisted's "Writing Servers" howto (chat.py: a LineReceiver with a
// GETNAME and a CHAT state, the users in a dict on the factory), which is also the "chat
// services" of ../shared/seeds/003_*.txt. The conversation, line by line ("\r\n"):
//   server: What's your name?
//   client: alice
//   server: Name taken, please choose another.      (if someone connected is called alice)
//   server: Welcome, alice!                         (otherwise; the others read "* alice has
//                                                     joined")
//   client: hello                                   (the others read "<alice> hello")
//   ...                                             (on disconnect, the others read
//                                                     "* alice has left")
// Beyond chat.py: an empty name is refused too ("Names cannot be empty, please choose
// another."); a line longer than maxLineLength drops its sender (LineReceiver's rule); and a
// listener that does not read is dropped once maxBufferedBytes of chat wait in its transport,
// so that one stalled client cannot make the server hold every message sent after it stopped.
// Everything runs on the reactor thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/log/logger.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/protocols/line_receiver.hpp"

namespace examples::chat {

inline const torsion::Logger& logger() {
  static const torsion::Logger log("examples.chat");
  return log;
}

struct ChatOptions {
  // The longest line a client may send (name or message), delimiter excluded.
  std::size_t maxLineLength = 4096;
  // A client with more than this many bytes of chat waiting in its transport is dropped.
  std::size_t maxBufferedBytes = 1024 * 1024;
};

class ChatFactory;

// One chatter: first a name, then messages.
class Chat : public torsion::protocols::LineReceiver {
 public:
  explicit Chat(ChatFactory& room);

  void connectionMade() override;
  void connectionLost(const torsion::Failure& reason) override;
  void lineReceived(std::string_view line) override;

  // The name this client chose (none while it is still asked for one).
  const std::optional<std::string>& name() const noexcept { return name_; }

  // Sends one line of chat to this client, or drops it if it stopped reading (see above).
  void deliver(std::string_view line);

 private:
  void handleName(std::string_view name);
  void handleChat(std::string_view message);

  ChatFactory& room_;
  std::optional<std::string> name_;
};

// The room: who is here, under which name.
class ChatFactory : public torsion::Factory {
 public:
  explicit ChatFactory(ChatOptions options = {}) : options_(options) {}

  std::unique_ptr<torsion::Protocol> buildProtocol(const torsion::Address&) override {
    auto chat = std::make_unique<Chat>(*this);
    chat->factory = this;
    return chat;
  }

  // Sends `line` to every named user but `except`.
  void broadcast(std::string_view line, const Chat* except) {
    // deliver() may drop a client, and on some transports its connectionLost (which
    // broadcasts its departure and leaves users_) runs at once: walk a snapshot.
    std::vector<Chat*> snapshot;
    snapshot.reserve(users_.size());
    for (const auto& entry : users_) snapshot.push_back(entry.second);
    for (Chat* user : snapshot) {
      if (user != except && user->connected) user->deliver(line);
    }
  }

  bool nameTaken(std::string_view name) const { return users_.find(name) != users_.end(); }
  // The names of the users in the room, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : users_) out.push_back(entry.first);
    return out;
  }
  const ChatOptions& options() const noexcept { return options_; }
  // Clients dropped for not reading.
  std::uint64_t droppedClients() const noexcept { return dropped_; }

 private:
  friend class Chat;

  ChatOptions options_;
  std::map<std::string, Chat*, std::less<>> users_;
  std::uint64_t dropped_ = 0;
};

inline Chat::Chat(ChatFactory& room) : room_(room) { maxLength = room.options().maxLineLength; }

inline void Chat::connectionMade() { sendLine("What's your name?"); }

inline void Chat::connectionLost(const torsion::Failure&) {
  if (!name_) return;
  room_.users_.erase(*name_);
  logger().info("{name} left", {{"name", *name_}});
  room_.broadcast("* " + *name_ + " has left", this);
}

inline void Chat::lineReceived(std::string_view line) {
  if (name_) {
    handleChat(line);
  } else {
    handleName(line);
  }
}

inline void Chat::handleName(std::string_view name) {
  if (name.empty()) {
    sendLine("Names cannot be empty, please choose another.");
    return;
  }
  if (room_.nameTaken(name)) {
    sendLine("Name taken, please choose another.");
    return;
  }
  name_ = std::string(name);
  room_.users_.emplace(*name_, this);
  sendLine("Welcome, " + *name_ + "!");
  logger().info("{name} joined from {peer}",
                {{"name", *name_}, {"peer", transport->getPeer().toString()}});
  room_.broadcast("* " + *name_ + " has joined", this);
}

inline void Chat::handleChat(std::string_view message) {
  room_.broadcast("<" + *name_ + "> " + std::string(message), this);
}

inline void Chat::deliver(std::string_view line) {
  if (transport->disconnecting()) return;
  if (transport->bufferedBytes() > room_.options().maxBufferedBytes) {
    ++room_.dropped_;
    logger().warn("Dropping {name}: {bytes} bytes of chat unread",
                  {{"name", name_.value_or("")}, {"bytes", transport->bufferedBytes()}});
    transport->abortConnection();
    return;
  }
  sendLine(line);
}

}  // namespace examples::chat
