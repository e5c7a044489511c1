#include "torsion/net/reconnecting.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>
#include <utility>

#include "torsion/log/logger.hpp"

namespace torsion {

namespace {

const Logger& logger() {
  static const Logger log("torsion.net.ReconnectingClientFactory");
  return log;
}

ReconnectingClientFactory::NormalVariate defaultRandom() {
  auto engine = std::make_shared<std::mt19937>(std::random_device{}());
  return [engine](double mean, double stddev) {
    return std::normal_distribution<double>(mean, stddev)(*engine);
  };
}

}  // namespace

ReconnectingClientFactory::ReconnectingClientFactory(
    IReactorTime& clock, std::function<std::unique_ptr<Protocol>()> make, NormalVariate random)
    : ClientFactory(std::move(make)),
      clock_(clock),
      random_(random ? std::move(random) : defaultRandom()) {}

ReconnectingClientFactory::~ReconnectingClientFactory() {
  if (callID_.active()) callID_.cancel();
}

void ReconnectingClientFactory::clientConnectionFailed(IConnector& connector,
                                                       const Failure& reason) {
  (void)reason;
  if (continueTrying_) retry(&connector);
}

void ReconnectingClientFactory::clientConnectionLost(IConnector& connector, const Failure& reason) {
  (void)reason;
  if (continueTrying_) retry(&connector);
}

void ReconnectingClientFactory::retry(IConnector* connector) {
  if (!continueTrying_) {
    logger().debug("Abandoning a connector on explicit request");
    return;
  }
  std::shared_ptr<IConnector> target;
  if (connector != nullptr) {
    target = connector->weak_from_this().lock();
    if (!target) {
      throw std::logic_error(
          "ReconnectingClientFactory::retry: the connector is not owned by a shared_ptr");
    }
    connector_ = target;
  } else {
    target = connector_.lock();
    if (!target) throw std::logic_error("ReconnectingClientFactory::retry: no connector to retry");
  }

  ++retries;
  if (maxRetries && retries > *maxRetries) {
    logger().info("Abandoning {destination} after {retries} retries.",
                  {{"destination", target->getDestination().toString()}, {"retries", retries}});
    return;
  }
  delay = std::min(delay * factor, maxDelay);
  if (jitter != 0) delay = random_(delay, delay * jitter);
  logger().debug("{destination} will retry in {delay} seconds",
                 {{"destination", target->getDestination().toString()}, {"delay", delay}});
  if (callID_.active()) callID_.cancel();
  callID_ = clock_.callLater(Seconds(delay), [target = std::move(target)] {
    // A connector that was stopped or reconnected meanwhile is left as it is.
    if (target->state() == IConnector::State::disconnected) target->connect();
  });
}

void ReconnectingClientFactory::stopTrying() {
  if (callID_.active()) callID_.cancel();
  callID_ = DelayedCall();
  continueTrying_ = false;
  if (auto c = connector_.lock(); c && c->state() == IConnector::State::connecting) {
    c->stopConnecting();
  }
}

void ReconnectingClientFactory::resetDelay() {
  delay = initialDelay;
  retries = 0;
  continueTrying_ = true;
}

}  // namespace torsion
