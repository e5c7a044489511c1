// The framings of Twisted's twisted.protocols.basic, in one include: LineReceiver,
// LineOnlyReceiver, NetstringReceiver, Int8/Int16/Int32StringReceiver.
#pragma once

#include "torsion/protocols/framed_receiver.hpp"
#include "torsion/protocols/int_string_receiver.hpp"
#include "torsion/protocols/line_receiver.hpp"
#include "torsion/protocols/netstring_receiver.hpp"
