# Turns store/lua/NAME.lua into `const char lua_NAME[]` in one C file.
# A script with a line "-- requires: lib/X.lua" gets store/lua/lib/X.lua put
# in front of it: Redis 7.0 scripts cannot share code, so shared helpers are
# copied into each script that names them, once, at build time.
file(GLOB files ${SRC_DIR}/*.lua)
list(SORT files)
set(out "/* generated from store/lua by cmake/embed_lua.cmake */\n")
foreach(f ${files})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} text)
  string(REGEX MATCHALL "-- requires: lib/[a-z_]+\\.lua" reqs "${text}")
  list(REMOVE_DUPLICATES reqs)
  set(body "")
  foreach(req ${reqs})
    string(REGEX REPLACE "-- requires: " "" lib "${req}")
    file(READ ${SRC_DIR}/${lib} libtext)
    string(APPEND body "${libtext}")
  endforeach()
  string(APPEND body "${text}")
  string(HEX "${body}" hex)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND out "const char lua_${name}[] = {${hex}0x00};\n")
endforeach()
file(WRITE ${OUT} "${out}")
