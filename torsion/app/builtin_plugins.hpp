// The plugins that ship with torsion, one file each (*_plugin.cpp); addBuiltinPlugins()
// (plugin.hpp) adds them all to a registry.
#pragma once

#include <memory>

#include "torsion/app/plugin.hpp"

namespace torsion::app {

// wire: the small inetd services (echo, discard, chargen, daytime, qotd, time, who).
std::unique_ptr<ServiceMaker> makeWirePlugin();
// portforward: a TCP relay.
std::unique_ptr<ServiceMaker> makePortForwardPlugin();
// socks: a SOCKSv4/4a/5 proxy.
std::unique_ptr<ServiceMaker> makeSocksPlugin();
// web: a static web server (twistd web).
std::unique_ptr<ServiceMaker> makeWebPlugin();

}  // namespace torsion::app
