// The endpoint description grammar: Twisted's _parse/_tokenize, then each type's parameters.
#include "torsion/net/endpoint_parser.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

namespace torsion {
namespace {

using namespace std::string_literals;
using KW = std::vector<std::pair<std::string, std::string>>;

// ---- syntax ---------------------------------------------------------------------------------

struct SyntaxCase {
  std::string input;
  EndpointDescription expected;
};

TEST(EndpointParser, splitsTypePositionalAndKeywordArguments) {
  const std::vector<SyntaxCase> cases = {
      {"tcp:80", {"tcp", {"80"}, {}}},
      {"tcp:80:interface=127.0.0.1", {"tcp", {"80"}, KW{{"interface", "127.0.0.1"}}}},
      // Twisted's docstring example: a:b:d=1:c -> args [b, c], kwargs {d: 1} (after the type).
      {"a:b:d=1:c", {"a", {"b", "c"}, KW{{"d", "1"}}}},
      {"unix:/var/run/finger:mode=660", {"unix", {"/var/run/finger"}, KW{{"mode", "660"}}}},
      {"tcp", {"tcp", {}, {}}},
      {"", {"", {}, {}}},
      {"tcp::", {"tcp", {"", ""}, {}}},
      {"tcp:interface=", {"tcp", {}, KW{{"interface", ""}}}},
      {"x:=v", {"x", {}, KW{{"", "v"}}}},
      // After '=', a second '=' is part of the value (only ':' ends it).
      {"x:key=a=b", {"x", {}, KW{{"key", "a=b"}}}},
      // Keys keep the order they were written in.
      {"x:b=1:a=2", {"x", {}, KW{{"b", "1"}, {"a", "2"}}}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parseEndpointDescription(c.input), c.expected) << "input: " << c.input;
  }
}

TEST(EndpointParser, backslashTakesTheNextCharacterLiterally) {
  const std::vector<SyntaxCase> cases = {
      {R"(ssl:443:privateKey=C\:/key.pem)", {"ssl", {"443"}, KW{{"privateKey", "C:/key.pem"}}}},
      {R"(x:a\=b)", {"x", {"a=b"}, {}}},
      {R"(x:a\\b)", {"x", {R"(a\b)"}, {}}},
      {R"(x:k\=ey=v\:al)", {"x", {}, KW{{"k=ey", "v:al"}}}},
      {R"(x:\q)", {"x", {"q"}, {}}},
      {R"(t\:ype:1)", {"t:ype", {"1"}, {}}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parseEndpointDescription(c.input), c.expected) << "input: " << c.input;
  }
}

TEST(EndpointParser, keepsNulBytesOfAbstractNames) {
  const std::string withNul("unix:\0abstract"s);
  const auto d = parseEndpointDescription(withNul);
  ASSERT_EQ(d.args.size(), 1u);
  EXPECT_EQ(d.args[0], "\0abstract"s);
}

TEST(EndpointParser, keywordLooksUpByExactKey) {
  const auto d = parseEndpointDescription("x:a=1:b=2");
  ASSERT_NE(d.keyword("b"), nullptr);
  EXPECT_EQ(*d.keyword("b"), "2");
  EXPECT_EQ(d.keyword("B"), nullptr);
}

TEST(EndpointParser, quoteStringArgumentReadsBackAsOneArgument) {
  for (const std::string arg : {"plain", "C:/x", "a=b", R"(back\slash)", R"(\:=)", ""}) {
    const auto d = parseEndpointDescription("x:" + quoteStringArgument(arg));
    ASSERT_EQ(d.args.size(), 1u) << arg;
    EXPECT_EQ(d.args[0], arg);
    const auto k = parseEndpointDescription("x:k=" + quoteStringArgument(arg));
    ASSERT_EQ(k.kwargs.size(), 1u) << arg;
    EXPECT_EQ(k.kwargs[0].second, arg);
  }
  EXPECT_EQ(quoteStringArgument(R"(a:b\c=d)"), R"(a\:b\\c\=d)");
}

// ---- errors: every malformed case names its part ------------------------------------------------

struct ErrorCase {
  std::string input;
  std::string part;     // EndpointStringError::part()
  std::string message;  // a piece of what()
};

template <class Parse>
void expectErrors(const std::vector<ErrorCase>& cases, Parse parse) {
  for (const auto& c : cases) {
    try {
      parse(c.input);
      ADD_FAILURE() << "no error for: " << c.input;
    } catch (const EndpointStringError& e) {
      EXPECT_EQ(e.part(), c.part) << "input: " << c.input << "\nwhat: " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
          << "input: " << c.input << "\nwhat: " << e.what()
          << "\nexpected to contain: " << c.message;
    }
  }
}

TEST(EndpointParser, syntaxErrorsNameTheirPart) {
  expectErrors(
      {
          {R"(tcp:80\)", "\\", "trailing backslash"},
          {"tcp:80:backlog=1:backlog=2", "backlog", "parameter 'backlog' given twice"},
          {"port=80:tcp", "port", "must start with the endpoint type, not 'port=80'"},
      },
      [](const std::string& s) { parseEndpointDescription(s); });
}

TEST(EndpointParser, serverErrorsNameTheirPart) {
  expectErrors(
      {
          {"foo:80", "foo",
           "unknown endpoint type 'foo' (known server types: tcp, tcp6, unix, systemd, ssl)"},
          {"", "", "unknown endpoint type ''"},
          {"TLS:443", "TLS", "'TLS' is a client endpoint type: a TLS server is 'ssl:PORT"},
          {"ssl", "port", "missing required parameter 'port' for a ssl server endpoint"},
          {"ssl:https", "https", "bad port number 'https': not a number"},
          {"ssl:443:privateKey=", "privateKey", "empty privateKey: a file name is needed"},
          {"ssl:443:k.pem:certKey=", "certKey", "empty certKey"},
          {"ssl:443:k.pem:extraCertChain=", "extraCertChain", "empty extraCertChain"},
          {"ssl:443:k.pem:c.pem:127.0.0.1", "127.0.0.1",
           "too many arguments for a ssl server endpoint: '127.0.0.1' (positional parameters: "
           "port, privateKey, certKey)"},
          {"ssl:443:sslmethod=TLSv1_2_METHOD", "sslmethod",
           "unknown parameter 'sslmethod' for a ssl server endpoint (known: port, privateKey, "
           "certKey, extraCertChain, interface, backlog)"},
          {"ssl:443:dhParameters=dh.pem", "dhParameters", "unknown parameter 'dhParameters'"},
          {"ssl:443:backlog=many", "many", "bad backlog 'many'"},
          {"tcp:80:mode=660", "mode",
           "unknown parameter 'mode' for a tcp server endpoint (known: port, interface, backlog)"},
          {"tcp:http", "http", "bad port number 'http': not a number"},
          {"tcp:-1", "-1", "bad port number '-1': not a number"},
          {"tcp: 80", " 80", "not a number"},
          {"tcp:", "", "bad port number '': not a number"},
          {"tcp:65536", "65536", "bad port number '65536': out of range (0-65535)"},
          {"tcp:99999999999999999999999", "99999999999999999999999", "out of range"},
          {"tcp", "port", "missing required parameter 'port' for a tcp server endpoint"},
          {R"(tcp:interface=\:\:1)", "port", "missing required parameter 'port'"},
          // Unescaped, the colons of an IPv6 address split it: interface='' then args '', '1'.
          {"tcp:interface=::1", "interface", "parameter 'interface' given twice"},
          {"tcp:80:port=81", "port", "parameter 'port' given twice (positionally and by name)"},
          {"tcp:80:127.0.0.1:50:extra", "extra", "too many arguments for a tcp server endpoint"},
          {"tcp:80:backlog=lots", "lots", "bad backlog 'lots': not a non-negative integer"},
          {"tcp:80:backlog=-5", "-5", "bad backlog"},
          {"tcp6:80:backlog=x", "x", "bad backlog"},
          {"tcp6:80:mode=1", "mode",
           "for a tcp6 server endpoint (known: port, backlog, interface)"},
          {"unix", "address", "missing required parameter 'address' for a unix server endpoint"},
          {"unix:", "", "empty Unix socket address"},
          {"unix:" + std::string(108, 'a'), std::string(108, 'a'),
           "too long (108 bytes, at most 107)"},
          {"unix:/s:mode=800", "800", "bad mode '800': not an octal permission"},
          {"unix:/s:mode=17777", "17777", "bad mode"},
          {"unix:/s:mode=", "", "bad mode"},
          {"unix:/s:lockfile=yes", "yes", "bad lockfile 'yes': must be 0 or 1"},
          {"unix:/s:port=1", "port", "unknown parameter 'port' for a unix server endpoint"},
          {"systemd:domain=IPX:index=0", "IPX", "bad domain 'IPX': must be INET, INET6 or UNIX"},
          {"systemd:domain=INET", "index", "missing required parameter 'index'"},
          {"systemd:index=0", "domain", "missing required parameter 'domain'"},
          {"systemd:domain=INET:index=first", "first", "bad index 'first'"},
          {"systemd:domain=INET:index=0:name=web", "name", "unknown parameter 'name'"},
      },
      [](const std::string& s) { parseServerDescription(s); });
}

TEST(EndpointParser, clientErrorsNameTheirPart) {
  expectErrors(
      {
          {"udp:host=h:port=1", "udp",
           "unknown endpoint type 'udp' (known client types: tcp, tcp6, unix, ssl, tls)"},
          {"ssl:h", "port", "missing required parameter 'port' for a ssl client endpoint"},
          {"ssl:port=443", "host", "missing required parameter 'host'"},
          {"ssl:h:0", "0", "bad port number '0': out of range (1-65535)"},
          {"ssl:h:443:caCertsDir=", "caCertsDir", "empty caCertsDir"},
          {"ssl:h:443:hostname=", "hostname", "empty hostname"},
          {"ssl:h:443:privateKey=k.pem", "privateKey", "privateKey given without certKey"},
          {"ssl:h:443:trustRoots=/etc", "trustRoots",
           "unknown parameter 'trustRoots' for a ssl client endpoint"},
          {"ssl:h:443:bindAddress=me", "me", "bad bindAddress 'me'"},
          {"tls:h", "port", "missing required parameter 'port' for a tls client endpoint"},
          {"tls::443", "", "empty host"},
          {"tls:h:443:5", "5", "too many arguments for a tls client endpoint"},
          {"tls:h:443:timeout=later", "later", "bad timeout 'later'"},
          {"tls:h:443:privateKey=k.pem", "privateKey", "privateKey given without certificate"},
          {"tls:h:443:certificate=", "certificate", "empty certificate"},
          {R"(tls:h:443:endpoint=tcp\:h\:443)", "endpoint",
           "unknown parameter 'endpoint' for a tls client endpoint"},
          {"tls:h:443:caCertsDir=/etc", "caCertsDir", "unknown parameter 'caCertsDir'"},
          {"tcp:host=h", "port", "missing required parameter 'port' for a tcp client endpoint"},
          {"tcp:port=80", "host", "missing required parameter 'host'"},
          {"tcp::80", "", "empty host"},
          {"tcp:h:0", "0", "bad port number '0': out of range (1-65535)"},
          {"tcp:h:http", "http", "bad port number 'http': not a number"},
          {"tcp:h:80:30", "30",
           "too many arguments for a tcp client endpoint: '30' "
           "(positional parameters: host, port)"},
          {"tcp:h:80:timeout=soon", "soon", "bad timeout 'soon': not a number of seconds"},
          {"tcp:h:80:timeout=-1", "-1", "bad timeout"},
          {"tcp:h:80:timeout=1e3", "1e3", "bad timeout"},
          {"tcp:h:80:timeout=inf", "inf", "bad timeout"},
          {"tcp:h:80:timeout=1.", "1.", "bad timeout"},
          {"tcp:h:80:bindAddress=localhost", "localhost",
           "bad bindAddress 'localhost': not a numeric IP address"},
          {"tcp:h:80:interface=x", "interface", "unknown parameter 'interface' for a tcp client"},
          {"tcp6:h:80:mode=1", "mode", "for a tcp6 client endpoint"},
          {"unix", "path", "missing required parameter 'path' for a unix client endpoint"},
          {"unix:path=", "", "empty Unix socket path"},
          {"unix:/a:/b", "/b", "too many arguments for a unix client endpoint"},
          {"unix:/a:path=/b", "path", "parameter 'path' given twice"},
          {"unix:/a:checkPID=1:lockfile=1", "lockfile", "given twice (also as 'lockfile'"},
          {"unix:/a:checkPID=2", "2", "bad checkPID '2': must be 0 or 1"},
          {"unix:/a:lockfile=true", "true", "bad lockfile 'true'"},
          {"unix:/a:mode=600", "mode", "unknown parameter 'mode' for a unix client endpoint"},
      },
      [](const std::string& s) { parseClientDescription(s); });
}

TEST(EndpointParser, errorMessagesEscapeControlBytes) {
  try {
    parseServerDescription("tcp:8\x01"s);
    FAIL() << "no error";
  } catch (const EndpointStringError& e) {
    EXPECT_EQ(e.part(), "8\x01"s);
    EXPECT_NE(std::string(e.what()).find("'8\\x01'"), std::string::npos) << e.what();
  }
}

// ---- server descriptions --------------------------------------------------------------------

TEST(EndpointParser, tcpServerDefaultsAndArguments) {
  EXPECT_EQ(std::get<TCPServerDescription>(parseServerDescription("tcp:80")),
            (TCPServerDescription{false, 80, "", 50}));
  EXPECT_EQ(std::get<TCPServerDescription>(parseServerDescription("tcp:0")),
            (TCPServerDescription{false, 0, "", 50}));
  EXPECT_EQ(std::get<TCPServerDescription>(parseServerDescription("tcp:8080:interface=127.0.0.1")),
            (TCPServerDescription{false, 8080, "127.0.0.1", 50}));
  EXPECT_EQ(std::get<TCPServerDescription>(parseServerDescription("tcp:8080:127.0.0.1:7")),
            (TCPServerDescription{false, 8080, "127.0.0.1", 7}));
  EXPECT_EQ(std::get<TCPServerDescription>(parseServerDescription("tcp:backlog=3:port=65535")),
            (TCPServerDescription{false, 65535, "", 3}));
  EXPECT_EQ(std::get<TCPServerDescription>(parseServerDescription("TCP:80")),
            (TCPServerDescription{false, 80, "", 50}));
}

TEST(EndpointParser, tcp6ServerDefaultsToAllIPv6AddressesAndTakesBacklogSecond) {
  EXPECT_EQ(std::get<TCPServerDescription>(parseServerDescription("tcp6:80")),
            (TCPServerDescription{true, 80, "::", 50}));
  // Twisted's _TCP6ServerParser takes (port, backlog, interface) in that order.
  EXPECT_EQ(std::get<TCPServerDescription>(parseServerDescription("tcp6:80:10")),
            (TCPServerDescription{true, 80, "::", 10}));
  EXPECT_EQ(std::get<TCPServerDescription>(parseServerDescription(R"(tcp6:80:interface=\:\:1)")),
            (TCPServerDescription{true, 80, "::1", 50}));
}

TEST(EndpointParser, unixServerDefaultsAndArguments) {
  EXPECT_EQ(std::get<UNIXServerDescription>(parseServerDescription("unix:/var/run/finger")),
            (UNIXServerDescription{"/var/run/finger", 0666, 50, true}));
  EXPECT_EQ(std::get<UNIXServerDescription>(
                parseServerDescription("unix:/s:mode=660:lockfile=0:backlog=5")),
            (UNIXServerDescription{"/s", 0660, 5, false}));
  EXPECT_EQ(std::get<UNIXServerDescription>(parseServerDescription("unix:/s:600:9:1")),
            (UNIXServerDescription{"/s", 0600, 9, true}));
  EXPECT_EQ(std::get<UNIXServerDescription>(parseServerDescription("unix:address=@abstract")),
            (UNIXServerDescription{"@abstract", 0666, 50, true}));
  EXPECT_EQ(std::get<UNIXServerDescription>(parseServerDescription("unix:\0name"s)).address,
            "\0name"s);
  EXPECT_EQ(std::get<UNIXServerDescription>(parseServerDescription("unix:/s:mode=07777")).mode,
            07777u);
}

TEST(EndpointParser, systemdServerNamesFamilyAndIndex) {
  EXPECT_EQ(
      std::get<SystemdServerDescription>(parseServerDescription("systemd:domain=INET:index=0")),
      (SystemdServerDescription{AF_INET, 0}));
  EXPECT_EQ(
      std::get<SystemdServerDescription>(parseServerDescription("systemd:index=2:domain=INET6")),
      (SystemdServerDescription{AF_INET6, 2}));
  EXPECT_EQ(std::get<SystemdServerDescription>(parseServerDescription("systemd:UNIX:1")),
            (SystemdServerDescription{AF_UNIX, 1}));
}

TEST(EndpointParser, sslServerDefaultsToServerPemForKeyAndCertificate) {
  EXPECT_EQ(std::get<SSLServerDescription>(parseServerDescription("ssl:443")),
            (SSLServerDescription{443, "server.pem", "", "", "", 50}));
  EXPECT_EQ(std::get<SSLServerDescription>(parseServerDescription(
                "ssl:8443:privateKey=/k.pem:certKey=/c.pem:extraCertChain=/chain.pem:"
                "interface=127.0.0.1:backlog=7")),
            (SSLServerDescription{8443, "/k.pem", "/c.pem", "/chain.pem", "127.0.0.1", 7}));
  EXPECT_EQ(std::get<SSLServerDescription>(parseServerDescription("SSL:443:/k.pem:/c.pem")),
            (SSLServerDescription{443, "/k.pem", "/c.pem", "", "", 50}));
  EXPECT_EQ(std::get<SSLServerDescription>(parseServerDescription(R"(ssl:443:privateKey=C\:/k)"))
                .privateKey,
            "C:/k");
}

// ---- client descriptions --------------------------------------------------------------------

TEST(EndpointParser, sslClientTakesTcpArgumentsAndItsFiles) {
  const auto d = std::get<SSLClientDescription>(parseClientDescription(
      "ssl:host=example.com:port=443:timeout=5:bindAddress=127.0.0.1:caCertsDir=/etc/cas:"
      "certKey=/c.pem:privateKey=/k.pem:hostname=www.example.com"));
  EXPECT_EQ(d.tcp, (TCPClientDescription{false, "example.com", 443, Seconds(5), "127.0.0.1"}));
  EXPECT_EQ(d.caCertsDir, "/etc/cas");
  EXPECT_EQ(d.certKey, "/c.pem");
  EXPECT_EQ(d.privateKey, "/k.pem");
  EXPECT_EQ(d.hostname, "www.example.com");
  EXPECT_EQ(std::get<SSLClientDescription>(parseClientDescription("ssl:example.com:443")),
            (SSLClientDescription{{false, "example.com", 443, Seconds(30), ""}, "", "", "", ""}));
}

TEST(EndpointParser, tlsClientTakesHostPortAndItsFiles) {
  EXPECT_EQ(std::get<TLSClientDescription>(parseClientDescription("tls:example.com:443")),
            (TLSClientDescription{"example.com", 443, Seconds(30), "", "", "", ""}));
  EXPECT_EQ(std::get<TLSClientDescription>(parseClientDescription(
                "tls:host=h:port=8443:timeout=1:bindAddress=127.0.0.1:certificate=/c.pem:"
                "trustRoots=/cas")),
            (TLSClientDescription{"h", 8443, Seconds(1), "127.0.0.1", "/c.pem", "", "/cas"}));
}

TEST(EndpointParser, tcpClientTakesHostAndPortByNameOrPosition) {
  const TCPClientDescription expected{false, "example.com", 80, Seconds(30), ""};
  for (const char* s :
       {"tcp:host=example.com:port=80", "tcp:example.com:80", "tcp:host=example.com:80",
        "tcp:example.com:port=80", "tcp:port=80:example.com", "tcp:port=80:host=example.com"}) {
    EXPECT_EQ(std::get<TCPClientDescription>(parseClientDescription(s)), expected) << s;
  }
}

TEST(EndpointParser, tcpClientOptions) {
  EXPECT_EQ(std::get<TCPClientDescription>(
                parseClientDescription("tcp:h:1:timeout=2.5:bindAddress=192.0.2.100")),
            (TCPClientDescription{false, "h", 1, Seconds(2.5), "192.0.2.100"}));
  EXPECT_EQ(std::get<TCPClientDescription>(parseClientDescription("tcp:h:65535:timeout=0")),
            (TCPClientDescription{false, "h", 65535, Seconds(0), ""}));
  EXPECT_EQ(std::get<TCPClientDescription>(
                parseClientDescription(R"(tcp6:host=\:\:1:port=22:bindAddress=\:\:1)")),
            (TCPClientDescription{true, "::1", 22, Seconds(30), "::1"}));
}

TEST(EndpointParser, unixClientPathAndOptions) {
  EXPECT_EQ(std::get<UNIXClientDescription>(parseClientDescription("unix:/var/foo/bar")),
            (UNIXClientDescription{"/var/foo/bar", Seconds(30), false}));
  EXPECT_EQ(std::get<UNIXClientDescription>(
                parseClientDescription("unix:path=/var/foo/bar:lockfile=1:timeout=9")),
            (UNIXClientDescription{"/var/foo/bar", Seconds(9), true}));
  EXPECT_EQ(std::get<UNIXClientDescription>(parseClientDescription("unix:/x:checkPID=1")),
            (UNIXClientDescription{"/x", Seconds(30), true}));
  EXPECT_EQ(std::get<UNIXClientDescription>(parseClientDescription("UNIX:@abstract")).path,
            "@abstract");
}

}  // namespace
}  // namespace torsion
