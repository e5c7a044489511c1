// The policies of Twisted's twisted.protocols.policies, in one include: ProtocolWrapper and
// WrappingFactory, TimeoutMixin, TimeoutFactory, the connection limits and ThrottlingFactory.
#pragma once

#include "torsion/protocols/limits.hpp"
#include "torsion/protocols/throttling.hpp"
#include "torsion/protocols/timeout.hpp"
#include "torsion/protocols/timeout_factory.hpp"
#include "torsion/protocols/wrapping.hpp"
