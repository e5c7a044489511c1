// Producers and consumers: flow control between whoever makes bytes and whoever sends them
// (Twisted's IProducer, IPushProducer, IPullProducer, IConsumer).
//
// A consumer (a transport) with a registered producer tells it when to go on:
//   - a push ("streaming") producer writes whenever it likes; the consumer calls
//     pauseProducing() when its buffer goes over the high-water mark and resumeProducing()
//     once the buffer has drained;
//   - a pull producer writes only when asked: the consumer calls resumeProducing() each time
//     its buffer empties, and the producer writes about one chunk per call.
// stopProducing() says the consumer is gone (connection lost): the producer must stop
// writing. All of these are called on the reactor thread.
#pragma once

#include <string_view>

namespace torsion {

class IProducer {
 public:
  virtual ~IProducer() = default;
  // The consumer is gone; write nothing more to it.
  virtual void stopProducing() = 0;
  // Push: the consumer has room again. Pull: produce one chunk now.
  virtual void resumeProducing() = 0;
  // Push producers only: stop writing until resumeProducing(). The default does nothing.
  virtual void pauseProducing() {}
};

class IConsumer {
 public:
  virtual ~IConsumer() = default;
  // Registers the producer that feeds this consumer (one at a time). `streaming` true for a
  // push producer, false for a pull producer (which gets resumeProducing() at once). Throws
  // std::logic_error if a producer is already registered. If the consumer is already closed,
  // the producer gets stopProducing() at once. The producer must stay alive until it is
  // unregistered or has received stopProducing().
  virtual void registerProducer(IProducer& producer, bool streaming) = 0;
  // Forgets the producer (a loseConnection waiting for it then goes on).
  virtual void unregisterProducer() = 0;
  // Takes bytes; copies what it cannot pass on at once.
  virtual void write(std::string_view data) = 0;
};

}  // namespace torsion
