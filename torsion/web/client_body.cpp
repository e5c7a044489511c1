#include "torsion/web/client_body.hpp"

#include <cerrno>
#include <fstream>
#include <system_error>
#include <utility>

#include "torsion/defer/errors.hpp"

namespace torsion::web {

// ---- StringBodyProducer ------------------------------------------------------------------

Deferred<void> StringBodyProducer::startProducing(IConsumer& consumer) {
  if (!body_.empty()) consumer.write(body_);
  return succeed();
}

// ---- FileBodyProducer --------------------------------------------------------------------

FileBodyProducer::FileBodyProducer(IReactorTime& clock, std::unique_ptr<std::istream> input,
                                   std::size_t readSize)
    : clock_(clock), input_(std::move(input)), readSize_(readSize == 0 ? 1 : readSize) {
  // Twisted finds the length by seeking to the end and back; a stream that cannot seek
  // (a pipe) has no length and goes chunked.
  const std::istream::pos_type here = input_->tellg();
  if (here != std::istream::pos_type(-1)) {
    input_->seekg(0, std::ios::end);
    const std::istream::pos_type end = input_->tellg();
    input_->seekg(here);
    if (end != std::istream::pos_type(-1) && end >= here && input_->good()) {
      length_ = static_cast<std::uint64_t>(end - here);
    }
  }
  input_->clear();
}

std::shared_ptr<FileBodyProducer> FileBodyProducer::open(IReactorTime& clock,
                                                         const std::string& path,
                                                         std::size_t readSize) {
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!in->is_open()) {
    throw std::system_error(errno != 0 ? errno : ENOENT, std::generic_category(),
                            "cannot open " + path);
  }
  return std::make_shared<FileBodyProducer>(clock, std::move(in), readSize);
}

FileBodyProducer::~FileBodyProducer() {
  if (call_.active()) call_.cancel();
}

Deferred<void> FileBodyProducer::startProducing(IConsumer& consumer) {
  consumer_ = &consumer;
  done_ = Deferred<void>([this](Deferred<void>&) { stopProducing(); });
  schedule();
  return done_;
}

void FileBodyProducer::schedule() {
  if (stopped_ || paused_ || call_.active() || consumer_ == nullptr) return;
  call_ = clock_.callLater(Seconds(0), [this] { step(); });
}

void FileBodyProducer::step() {
  if (stopped_ || paused_ || consumer_ == nullptr) return;
  buffer_.resize(readSize_);
  input_->read(buffer_.data(), static_cast<std::streamsize>(readSize_));
  const auto got = static_cast<std::size_t>(input_->gcount());
  if (input_->bad()) {
    stopped_ = true;
    consumer_ = nullptr;
    done_.errback(std::system_error(EIO, std::generic_category(), "reading the request body"));
    return;
  }
  if (got > 0) consumer_->write(std::string_view(buffer_.data(), got));
  if (stopped_) return;  // the write lost the connection
  if (input_->eof()) {
    stopped_ = true;
    consumer_ = nullptr;
    done_.callback();
    return;
  }
  schedule();
}

void FileBodyProducer::pauseProducing() {
  paused_ = true;
  if (call_.active()) call_.cancel();
}

void FileBodyProducer::resumeProducing() {
  paused_ = false;
  schedule();
}

void FileBodyProducer::stopProducing() {
  stopped_ = true;
  consumer_ = nullptr;
  if (call_.active()) call_.cancel();
}

// ---- PipeBodyProducer --------------------------------------------------------------------

PipeBodyProducer::~PipeBodyProducer() {
  // Writers waiting for room learn that no room will come.
  stopped_ = true;
  wakeWriters();
}

Deferred<void> PipeBodyProducer::startProducing(IConsumer& consumer) {
  consumer_ = &consumer;
  started_ = true;
  done_ = Deferred<void>();
  Deferred<void> result = done_;
  if (failure_) {
    done_.errback(*failure_);
    return result;
  }
  flush();
  return result;
}

void PipeBodyProducer::resumeProducing() {
  paused_ = false;
  flush();
}

void PipeBodyProducer::stopProducing() {
  stopped_ = true;
  consumer_ = nullptr;
  pending_.clear();
  wakeWriters();
}

void PipeBodyProducer::write(std::string_view data) {
  if (stopped_ || finished_ || failure_ || data.empty()) return;
  if (started_ && !paused_ && pending_.empty()) {
    consumer_->write(data);
  } else {
    pending_.append(data);
  }
}

void PipeBodyProducer::finish() {
  if (stopped_ || finished_ || failure_) return;
  finished_ = true;
  flush();
}

void PipeBodyProducer::fail(Failure reason) {
  if (stopped_ || finished_ || failure_) return;
  failure_ = reason;
  pending_.clear();
  if (started_ && !done_.called()) done_.errback(std::move(reason));
  stopped_ = true;
  wakeWriters();
}

Deferred<void> PipeBodyProducer::whenWritable() {
  if (stopped_ || (started_ && !paused_ && pending_.empty())) return succeed();
  Deferred<void> d;
  writers_.push_back(d);
  return d;
}

void PipeBodyProducer::flush() {
  if (!started_ || stopped_) return;
  if (!paused_ && !pending_.empty()) {
    std::string out = std::move(pending_);
    pending_.clear();
    consumer_->write(out);
    if (stopped_) return;
  }
  if (finished_ && pending_.empty() && !done_.called()) {
    done_.callback();
    return;
  }
  if (!paused_ && pending_.empty()) wakeWriters();
}

void PipeBodyProducer::wakeWriters() {
  std::vector<Deferred<void>> writers = std::move(writers_);
  writers_.clear();
  for (Deferred<void>& d : writers) {
    if (!d.called()) d.callback();
  }
}

}  // namespace torsion::web
