// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/daemon/wyoming_server.h"

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <deque>
#include <mutex>
#include <vector>

namespace sw::wyoming {

namespace {

std::string endpoint_text(const asio::ip::tcp::socket& s) {
  std::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string error_bytes(const std::string& text, const std::string& code) {
  Event e;
  e.type = "error";
  e.data = {{"text", text}, {"code", code}};
  return encode(e);
}

}  // namespace

class Connection;

struct Server::Impl {
  Impl(const VoiceSet& v, daemon::SynthEngine& e, ServerConfig c, LogSink l, Stats& s, daemon::Metrics* m,
       std::shared_ptr<daemon::SpeakerPool> sp)
      : voices(v),
        engine(e),
        metrics(m),
        speakers(sp ? std::move(sp) : daemon::SpeakerPool::create()),
        cfg(std::move(c)),
        log(std::move(l)),
        stats(s),
        pool(cfg.worker_threads ? cfg.worker_threads : 1),
        guard(asio::make_work_guard(io)) {}

  void say(const char* level, const std::string& m) const {
    if (log)
      log(level, m);
  }
  void accept();
  void connection_closed();  // io thread

  const VoiceSet& voices;
  daemon::SynthEngine& engine;
  daemon::Metrics* metrics;
  std::shared_ptr<daemon::SpeakerPool> speakers;
  ServerConfig cfg;
  LogSink log;
  Stats& stats;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io};
  asio::thread_pool pool;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::vector<std::weak_ptr<Connection>> connections;  // io thread only
  bool stopping = false;                               // io thread only
};

// One client. Reads, decoding and socket writes happen on the io thread;
// on `work` (a strand of the pool) the Session plans each event in order, and
// a speech step goes to the engine; pump() (on the strand, woken by the
// engine) turns what the stream's ring holds into audio-chunks. The next
// event is planned when the current one's steps are all sent.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl& srv, asio::ip::tcp::socket sock)
      : srv_(srv),
        sock_(std::move(sock)),
        work_(asio::make_strand(srv.pool)),
        idle_(srv.io),
        decoder_(srv.cfg.framing),
        session_(srv.voices, srv.speakers, srv.cfg.session, srv.cfg.version),
        chunk_(srv.cfg.session.samples_per_chunk),
        peer_(endpoint_text(sock_)) {}

  void start() {
    srv_.say("info", "event=connect peer=" + peer_);
    arm_idle();
    read();
  }

  // Stop reading; what was received is still handled and sent (io thread).
  void drain() {
    std::error_code ec;
    sock_.shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
  }

 private:
  void read() {
    sock_.async_read_some(asio::buffer(buf_),
                          [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(std::error_code ec, std::size_t n) {
    if (ec || n == 0) {
      // The peer is done sending (or gone): finish what it asked for, then close.
      asio::post(work_, [self = shared_from_this()] { self->close_when_sent(); });
      return;
    }
    last_read_ = std::chrono::steady_clock::now();
    try {
      decoder_.feed(buf_.data(), n);
    } catch (const ProtocolError& e) {
      srv_.stats.errors++;
      srv_.say("warn", std::string("event=protocol-error peer=") + peer_ + " error=\"" + e.what() + "\"");
      // after the replies to what came before it
      asio::post(work_, [self = shared_from_this(), msg = std::string(e.what())] {
        self->protocol_error_ = msg;  // sent after the replies to what came before it
        self->close_when_sent();
      });
      return;
    }
    while (auto ev = decoder_.next()) {
      if (queued_.load() >= srv_.cfg.max_queued_events) {
        srv_.stats.errors++;
        asio::post(work_, [self = shared_from_this()] {
          self->protocol_error_ = "too many events waiting to be handled";
          self->protocol_error_code_ = "busy";
          self->close_when_sent();
        });
        return;
      }
      ++queued_;
      asio::post(work_, [self = shared_from_this(), e = std::move(*ev)]() mutable { self->handle(std::move(e)); });
    }
    read();
  }

  void handle(Event e) {  // worker strand
    inbox_.push_back(std::move(e));
    advance();
  }

  void metric_error(const std::string& code) {
    srv_.stats.errors++;
    if (srv_.metrics)
      srv_.metrics->error("wyoming", code);
  }

  // Runs steps until one is speech in flight (worker strand).
  void advance() {
    while (!stream_) {
      if (gone_) {
        steps_.clear();
        inbox_.clear();
        return;
      }
      if (steps_.empty()) {
        if (inbox_.empty()) {
          if (close_pending_)
            finish_and_close();
          return;
        }
        const Event e = std::move(inbox_.front());
        inbox_.pop_front();
        --queued_;
        srv_.stats.events++;
        request_start_ = std::chrono::steady_clock::now();
        for (auto& st : session_.plan(e))
          steps_.push_back(std::move(st));
        continue;
      }
      Step st = std::move(steps_.front());
      steps_.pop_front();
      if (!st.speech) {
        if (st.event.type == "error")
          metric_error(st.event.data.value("code", "error"));
        if (!queue(encode(st.event), false))
          gone_ = true;
        continue;
      }
      if (srv_.metrics)
        srv_.metrics->request("wyoming");
      try {
        std::weak_ptr<Connection> weak = shared_from_this();
        stream_ = srv_.engine.submit(std::move(st.speaker), std::move(*st.speech), [weak] {
          if (auto c = weak.lock())
            asio::post(c->work_, [c] { c->pump(); });
        });
      } catch (const daemon::EngineBusy& e) {
        metric_error("busy");
        if (!queue(error_bytes(e.what(), "busy"), false))
          gone_ = true;
        continue;
      }
      speaking_ = true;
      rate_ = st.rate;
      sent_ = 0;
      fill_ = 0;
      first_ = true;
      if (!queue(encode(audio_start(rate_)), false))
        abandon("gone");
    }
  }

  // The stream's ring -> audio-chunks (worker strand, woken by the engine).
  void pump() {
    if (!stream_)
      return;
    if (std::chrono::steady_clock::now() - request_start_ > std::chrono::duration<double>(srv_.cfg.max_request_s)) {
      srv_.stats.timeouts++;
      srv_.say("warn",
               "event=request-timeout peer=" + peer_ + " max_request_s=" + std::to_string(srv_.cfg.max_request_s));
      metric_error("timeout");
      queue(error_bytes("request took over " + std::to_string(srv_.cfg.max_request_s) + " s: cut short", "timeout"),
            false);
      abandon("timeout");
      return;
    }
    for (;;) {
      fill_ += stream_->read(chunk_.data() + fill_, chunk_.size() - fill_);
      const bool end = stream_->done();
      if (fill_ < chunk_.size() && !(end && fill_ > 0))
        break;
      if (first_ && srv_.metrics) {
        const std::chrono::duration<double> t = std::chrono::steady_clock::now() - request_start_;
        srv_.metrics->first_audio("wyoming", t.count());
      }
      first_ = false;
      if (!queue(encode(audio_chunk(rate_, chunk_.data(), fill_, sent_)), false)) {
        abandon(slow() ? "slow-client" : "gone");
        return;
      }
      sent_ += fill_;
      fill_ = 0;
    }
    if (!stream_->done())
      return;  // more to come: the engine calls again
    if (!stream_->failure().empty()) {
      metric_error("synthesis-failed");
      queue(error_bytes(stream_->failure(), "synthesis-failed"), false);
    }
    if (srv_.metrics && sent_)
      srv_.metrics->finished("wyoming", stream_->compute_seconds() / (double(sent_) / rate_), double(sent_) / rate_);
    stream_.reset();
    speaking_ = false;
    if (!queue(encode(audio_stop(rate_, sent_)), false))
      gone_ = true;
    advance();
  }

  // The current stream is given up (client gone, too slow, timed out).
  void abandon(const char* why) {
    if (stream_)
      stream_->cancel();
    stream_.reset();
    speaking_ = false;
    if (srv_.metrics)
      srv_.metrics->dropped("wyoming", why);
    gone_ = true;
    steps_.clear();
    inbox_.clear();
    std::lock_guard<std::mutex> l(mu_);
    if (!closed_) {
      closed_ = true;
      close_after_write_ = true;
      if (!writing_)
        asio::post(srv_.io, [self = shared_from_this()] { self->close(); });
    }
  }

  bool slow() {
    std::lock_guard<std::mutex> l(mu_);
    return slow_;
  }

  // Any thread. False when the connection is closed or the client is too slow (then dropped).
  bool queue(std::string bytes, bool force) {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_)
      return false;
    if (!force && out_bytes_ + bytes.size() > srv_.cfg.max_queued_output_bytes) {
      srv_.stats.dropped_slow++;
      slow_ = true;
      srv_.say("warn", "event=drop-slow-client peer=" + peer_ + " queued_bytes=" + std::to_string(out_bytes_));
      closed_ = true;
      asio::post(srv_.io, [self = shared_from_this()] { self->close(); });
      return false;
    }
    out_bytes_ += bytes.size();
    out_.push_back(std::move(bytes));
    if (!writing_) {
      writing_ = true;
      asio::post(srv_.io, [self = shared_from_this()] { self->write(); });
    }
    return true;
  }

  // Worker strand: close once every event received so far is answered.
  void close_when_sent() {
    close_pending_ = true;
    if (!stream_ && steps_.empty() && inbox_.empty())
      finish_and_close();
  }

  void finish_and_close() {  // worker strand
    if (!protocol_error_.empty()) {
      queue(error_bytes(protocol_error_, protocol_error_code_), true);
      protocol_error_.clear();
    }
    std::lock_guard<std::mutex> l(mu_);
    close_after_write_ = true;
    if (!writing_)
      asio::post(srv_.io, [self = shared_from_this()] { self->close(); });
  }

  void write() {  // io thread
    std::lock_guard<std::mutex> l(mu_);
    if (out_.empty() || !sock_.is_open()) {
      writing_ = false;
      return;
    }
    asio::async_write(sock_, asio::buffer(out_.front()),
                      [self = shared_from_this()](std::error_code ec, std::size_t) { self->written(ec); });
  }

  void written(std::error_code ec) {  // io thread
    bool again = false, done = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      out_bytes_ -= out_.front().size();
      out_.pop_front();
      if (ec) {
        closed_ = true;
        done = true;
      } else if (!out_.empty()) {
        again = true;
      } else {
        writing_ = false;
        done = close_after_write_ || closed_;
      }
    }
    if (again)
      write();
    else if (done)
      close();
  }

  void arm_idle() {
    idle_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(srv_.cfg.idle_timeout_s)));
    idle_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec)
        return;  // cancelled: closed
      bool busy;
      {
        std::lock_guard<std::mutex> l(self->mu_);
        busy = self->writing_ || self->queued_.load() > 0 || self->speaking_.load();
      }
      const auto quiet = std::chrono::steady_clock::now() - self->last_read_;
      if (busy || quiet < std::chrono::duration<double>(self->srv_.cfg.idle_timeout_s)) {
        self->arm_idle();
        return;
      }
      self->srv_.say("info", "event=idle-timeout peer=" + self->peer_);
      {
        std::lock_guard<std::mutex> l(self->mu_);
        self->closed_ = true;
      }
      self->close();
    });
  }

  void close() {  // io thread
    if (finished_)
      return;
    finished_ = true;
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    std::error_code ec;
    sock_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    idle_.cancel();
    asio::post(work_, [self = shared_from_this()] {  // the engine lets go of its stream
      if (self->stream_) {
        self->stream_->cancel();
        self->stream_.reset();
        self->speaking_ = false;
        if (self->srv_.metrics)
          self->srv_.metrics->dropped("wyoming", "gone");
      }
      self->gone_ = true;
      self->steps_.clear();
      self->inbox_.clear();
    });
    srv_.say("info", "event=disconnect peer=" + peer_);
    srv_.connection_closed();
  }

  Server::Impl& srv_;
  asio::ip::tcp::socket sock_;
  asio::strand<asio::thread_pool::executor_type> work_;
  asio::steady_timer idle_;
  std::array<char, 16384> buf_{};
  Decoder decoder_;  // io thread
  // Worker strand:
  Session session_;
  std::deque<Event> inbox_;  // received, not yet planned
  std::deque<Step> steps_;   // of the event being answered
  std::shared_ptr<daemon::SynthStream> stream_;
  std::vector<float> chunk_;  // [samples_per_chunk]
  std::size_t fill_ = 0, sent_ = 0;
  int rate_ = 16000;
  bool first_ = true, gone_ = false, close_pending_ = false;
  std::string protocol_error_, protocol_error_code_ = "protocol-error";
  std::chrono::steady_clock::time_point request_start_;
  std::string peer_;
  std::chrono::steady_clock::time_point last_read_ = std::chrono::steady_clock::now();
  std::atomic<std::size_t> queued_{0};
  std::mutex mu_;  // guards the output queue and the flags below
  std::deque<std::string> out_;
  std::size_t out_bytes_ = 0;
  bool writing_ = false, closed_ = false, close_after_write_ = false, slow_ = false;
  std::atomic<bool> speaking_{false};  // a stream in flight (the idle timer waits)
  bool finished_ = false;              // io thread
};

void Server::Impl::accept() {
  acceptor.async_accept([this](std::error_code ec, asio::ip::tcp::socket sock) {
    if (stopping || !acceptor.is_open())
      return;
    if (!ec) {
      stats.connections++;
      if (static_cast<std::size_t>(stats.active.load()) >= cfg.max_connections) {
        stats.refused_busy++;
        say("warn", "event=refuse-busy max_connections=" + std::to_string(cfg.max_connections));
        auto bytes = std::make_shared<std::string>(
            error_bytes("server busy: " + std::to_string(cfg.max_connections) + " connections already", "busy"));
        auto s = std::make_shared<asio::ip::tcp::socket>(std::move(sock));
        asio::async_write(*s, asio::buffer(*bytes), [s, bytes](std::error_code, std::size_t) {
          std::error_code e2;
          s->shutdown(asio::ip::tcp::socket::shutdown_both, e2);
          s->close(e2);
        });
      } else {
        stats.active++;
        std::error_code e2;
        if (cfg.socket_send_buffer_bytes)
          sock.set_option(asio::socket_base::send_buffer_size(static_cast<int>(cfg.socket_send_buffer_bytes)), e2);
        sock.set_option(asio::ip::tcp::no_delay(true), e2);
        auto c = std::make_shared<Connection>(*this, std::move(sock));
        // Forget the closed ones (a weak_ptr to a make_shared object keeps its memory).
        connections.erase(std::remove_if(connections.begin(), connections.end(),
                                         [](const std::weak_ptr<Connection>& w) { return w.expired(); }),
                          connections.end());
        connections.push_back(c);
        c->start();
      }
    } else {
      say("warn", "event=accept-error error=\"" + ec.message() + "\"");
    }
    accept();
  });
}

void Server::Impl::connection_closed() {
  stats.active--;
  if (stopping && stats.active.load() == 0)
    guard.reset();
}

Server::Server(const VoiceSet& voices, daemon::SynthEngine& engine, ServerConfig config, LogSink log,
               daemon::Metrics* metrics, std::shared_ptr<daemon::SpeakerPool> speakers)
    : impl_(std::make_unique<Impl>(voices, engine, std::move(config), std::move(log), stats_, metrics,
                                   std::move(speakers))) {
  auto& a = impl_->acceptor;
  std::error_code aec;
  const auto addr = asio::ip::make_address(impl_->cfg.host, aec);
  if (aec)
    throw std::invalid_argument("wyoming: host '" + impl_->cfg.host + "' is not an IP address");
  const asio::ip::tcp::endpoint ep(addr, impl_->cfg.port);
  a.open(ep.protocol());
  a.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  try {
    a.bind(ep);
  } catch (const std::system_error& e) {
    throw std::system_error(e.code(),
                            "wyoming: cannot bind tcp://" + impl_->cfg.host + ":" + std::to_string(impl_->cfg.port));
  }
  a.listen();
}

Server::~Server() {
  impl_->pool.join();
}

std::uint16_t Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void Server::run() {
  impl_->say("info", "event=listen uri=tcp://" + impl_->cfg.host + ":" + std::to_string(port()));
  impl_->accept();
  impl_->io.run();
  impl_->pool.join();
  impl_->say("info", "event=stopped");
}

void Server::stop() {
  asio::post(impl_->io, [i = impl_.get()] {
    if (i->stopping)
      return;
    i->stopping = true;
    i->say("info", "event=draining active=" + std::to_string(i->stats.active.load()));
    std::error_code ec;
    i->acceptor.close(ec);
    for (auto& w : i->connections)
      if (auto c = w.lock())
        c->drain();
    i->connections.clear();
    if (i->stats.active.load() == 0)
      i->guard.reset();
  });
}

}  // namespace sw::wyoming
