/* Names of codes as the emulator writes them (generated into hilt_tables.c). */
#ifndef HILT_TABLES_H
#define HILT_TABLES_H

#include <stddef.h>
#include <stdint.h>

typedef struct { int32_t code; const char *name; } hilt_code_name_t;
typedef struct { uint32_t bit; const char *text; } hilt_flag_text_t;

extern const hilt_code_name_t hilt_esp_err_names[];
extern const size_t hilt_esp_err_name_count;
extern const hilt_code_name_t hilt_mbedtls_err_names[];
extern const size_t hilt_mbedtls_err_name_count;
extern const hilt_flag_text_t hilt_verify_texts[];
extern const size_t hilt_verify_text_count;
extern const char hilt_verify_unknown[];
extern const char *const hilt_suite_names[];
extern const size_t hilt_suite_name_count;

#endif
