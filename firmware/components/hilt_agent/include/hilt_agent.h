/*
 * hilt_agent.h: the public entry of hilt's test agent (agent protocol v1, docs/protocol.md).
 *
 * A port (see hilt_port.h) fills in a hilt_port_t and calls hilt_agent_run(). The core's memory
 * is fixed at build time by the limits below: no malloc on the protocol path.
 */
#ifndef HILT_AGENT_H
#define HILT_AGENT_H

#include "hilt_port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HILT_AGENT_NAME "hilt-agent"
#define HILT_AGENT_VERSION "1.0.0"
#define HILT_PROTO_VERSION 1

/* Limits. A build may lower the store's (ESP-IDF: Kconfig); the line limit is the protocol's. */
#ifndef HILT_STORE_SLOTS
#define HILT_STORE_SLOTS 8          /* credential slots */
#endif
#ifndef HILT_SLOT_BYTES
#define HILT_SLOT_BYTES 8192        /* largest credential one slot holds */
#endif
#ifndef HILT_TRANSFERS
#define HILT_TRANSFERS 2            /* store.put transfers in progress at once (to different slots) */
#endif
#define HILT_MAX_LINE 1024          /* longest host line, bytes, without its line ending */
#define HILT_MAX_PARTS 1000         /* most parts one transfer may have */
#define HILT_MAX_HOLD_MS 60000      /* hold_ms upper bound */
#define HILT_MIN_CONNECT_STACK 2048 /* stack= bounds (docs/protocol.md) */
#define HILT_MAX_CONNECT_STACK 65536

/**
 * Runs the agent: writes the boot event, then reads console input through port->read and
 * answers commands until read() reports the end of input (a board never gets there).
 * Returns 0 then. The port's functions must all be set (bind may be NULL).
 */
int hilt_agent_run(const hilt_port_t *port);

#ifdef __cplusplus
}
#endif

#endif /* HILT_AGENT_H */
