#include "torsion/web/client_errors.hpp"

#include <utility>

namespace torsion::web {

namespace {

std::string withReasons(const std::string& what, const std::vector<Failure>& reasons) {
  std::string out = what;
  const char* sep = ": ";
  for (const Failure& f : reasons) {
    out += sep;
    out += f.getErrorMessage();
    sep = "; ";
  }
  return out;
}

}  // namespace

WrapperError::WrapperError(const std::string& what, std::vector<Failure> reasons)
    : Error(withReasons(what, reasons)), reasons_(std::move(reasons)) {}

ResponseFailed::ResponseFailed(std::vector<Failure> reasons, std::shared_ptr<Response> response)
    : WrapperError("The response failed", std::move(reasons)), response_(std::move(response)) {}

ResponseFailed::ResponseFailed(const std::string& what, std::vector<Failure> reasons)
    : WrapperError(what, std::move(reasons)) {}

ResponseNeverReceived::ResponseNeverReceived(std::vector<Failure> reasons)
    : ResponseFailed("No response was received", std::move(reasons)) {}

RequestTransmissionFailed::RequestTransmissionFailed(std::vector<Failure> reasons)
    : WrapperError("The request could not be sent", std::move(reasons)) {}

RequestGenerationFailed::RequestGenerationFailed(std::vector<Failure> reasons)
    : WrapperError("The request body producer failed", std::move(reasons)) {}

HTTPError::HTTPError(int code, const std::string& message, std::string body)
    : HTTPError(code, message, std::to_string(code) + " " + message, std::move(body)) {}

HTTPError::HTTPError(int code, const std::string& message, const std::string& what,
                     std::string body)
    : Error(what), code_(code), message_(message), body_(std::move(body)) {}

PageRedirect::PageRedirect(int code, const std::string& location)
    : HTTPError(code, "Redirect not followed",
                std::to_string(code) + " redirect to " + location +
                    " not followed (only GET and HEAD are redirected with the same method)",
                {}),
      location_(location) {}

InfiniteRedirection::InfiniteRedirection(int code, const std::string& location)
    : HTTPError(
          code, "Infinite redirection detected",
          std::to_string(code) + " Infinite redirection detected (last location " + location + ")",
          {}),
      location_(location) {}

RedirectWithNoLocation::RedirectWithNoLocation(int code, const std::string& uri)
    : HTTPError(code, "No location header field",
                std::to_string(code) + " redirect without a Location field from " + uri, {}),
      uri_(uri) {}

PartialDownloadError::PartialDownloadError(int code, const std::string& message, std::string body)
    : HTTPError(code, message,
                std::to_string(code) + " " + message +
                    ": the body ended with the connection and may be incomplete",
                std::move(body)) {}

BodyTooLarge::BodyTooLarge(std::size_t maxSize)
    : Error("The response body is longer than the maximum of " + std::to_string(maxSize) +
            " bytes"),
      maxSize_(maxSize) {}

ProxyConnectError::ProxyConnectError(int code, const std::string& what)
    : ConnectError(what), code_(code) {}

}  // namespace torsion::web
