/*
 * hilt_port_idf.h: the agent's ESP-IDF port. An app brings up its network interface, then:
 *
 *     hilt_agent_run(hilt_port_idf());
 *
 * which takes over the console chosen in Kconfig (menu "hilt test agent") and never returns on
 * a board.
 */
#ifndef HILT_PORT_IDF_H
#define HILT_PORT_IDF_H

#include "hilt_port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The port, set up on first call (console driver installed, MQTT event queue created). */
const hilt_port_t *hilt_port_idf(void);

#ifdef __cplusplus
}
#endif

#endif /* HILT_PORT_IDF_H */
