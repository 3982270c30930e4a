# Turns store/lua/NAME.lua into `const char lua_NAME[]` in one C file.
# A script with a line "-- requires: lib/X.lua" gets store/lua/lib/X.lua put
# in front of it: Redis 7.0 scripts cannot share code, so shared helpers are
# copied into each script that names them, once, at build time.
# A script with a line "-- requires: fields" gets the field table of
# store/fields.h (FIELDS) as Lua locals: `local NAME = <0-based offset>` per
# field and `local <LIST>_FIELDS = <count>` per list.
file(READ ${FIELDS} header)
string(REPLACE "\\\n" " " header "${header}")  # each list on one line
string(REGEX REPLACE "[][;]" "," header "${header}") # ; splits a CMake list, [ ] group one
string(REGEX MATCHALL "#define [A-Z_]+_FIELD_LIST\\(X\\)[^\n]*" lists "${header}")
set(fields "-- generated from store/fields.h\n")
foreach(def IN LISTS lists)
  string(REGEX MATCH "#define ([A-Z_]+)_FIELD_LIST" _ "${def}")
  set(list ${CMAKE_MATCH_1})
  string(REGEX MATCHALL " X\\([A-Z_]+\\)" members "${def}")
  set(k 0)
  foreach(m IN LISTS members)
    string(REGEX REPLACE " X\\(([A-Z_]+)\\)" "\\1" name "${m}")
    string(APPEND fields "local ${name} = ${k}\n")
    math(EXPR k "${k} + 1")
  endforeach()
  string(APPEND fields "local ${list}_FIELDS = ${k}\n")
endforeach()

file(GLOB files ${SRC_DIR}/*.lua)
list(SORT files)
set(out "/* generated from store/lua by cmake/embed_lua.cmake */\n")
string(HEX "${fields}" hex)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
string(APPEND out "const char lua_fields[] = {${hex}0x00};\n")
foreach(f ${files})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} text)
  string(REGEX MATCHALL "-- requires: lib/[a-z_]+\\.lua" reqs "${text}")
  list(REMOVE_DUPLICATES reqs)
  set(body "")
  if(text MATCHES "-- requires: fields\n")
    string(APPEND body "${fields}")
  endif()
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
