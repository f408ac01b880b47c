/* The page template, generated from web/ by web/embed.py (web_assets.c in the build tree):
 * PIECES[0], then the content of SLOTS[0], PIECES[1], ... PIECES[NSLOTS]. */
#ifndef PYSNAP_WEB_ASSETS_H
#define PYSNAP_WEB_ASSETS_H

#include <stddef.h>

extern const char *const ps_web_pieces[];
extern const char *const ps_web_slots[];
extern const size_t ps_web_nslots;

#endif
