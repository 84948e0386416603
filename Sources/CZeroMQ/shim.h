#ifndef TOPIARY_CZEROMQ_SHIM_H
#define TOPIARY_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
