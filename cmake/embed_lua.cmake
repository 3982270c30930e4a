# Turns store/lua/NAME.lua into `const char lua_NAME[]` in one C file.
# A script with a line "-- requires: lib/X.lua" gets store/lua/lib/X.lua put
# in front of it: Redis 7.0 scripts cannot share code, so shared helpers are
# copied into each script that names them, once, at build time.
# A script with a line "-- requires: fields", or that requires any lib (the
# libs use them), gets the field table of store/fields.h (FIELDS) as Lua
# locals: `local NAME = <0-based offset>` per field, `local <LIST>_FIELDS =
# <count>` per list, and `local NAME = 'text'` per name of a _NAME_LIST;
# each script only those its text or its libs mention (Lua allows a chunk
# 200 locals, and the whole table nears that). `lua_fields` is all of it.
#
# The hot-path scripts (FUNCTION_SCRIPTS) are also emitted as a Redis 7
# function library, `const char lua_fn_NAME[]`, named hookd_NAME_<the first
# 12 hex digits of the SHA1 of the library's text with its name left out>
# (so two builds whose libraries differ in anything never share a name). An EVALSHA runs a script's whole top level again at every call
# (the field table, the libraries' local functions and tables: ~13 us), a
# function library runs its top level once. A library's top level may not
# touch `string`, `table` and the rest at load time, so the script's prelude
# runs at its first call and what it made is kept in the `run` upvalue; the
# script's own text becomes the body of the function that `run` holds.
set(FUNCTION_SCRIPTS ingest claim complete)
cmake_policy(SET CMP0057 NEW) # if(IN_LIST) in script mode
file(READ ${FIELDS} header)
string(REPLACE "\\\n" " " header "${header}")  # each list on one line
string(REGEX REPLACE "[][;]" "," header "${header}") # ; splits a CMake list, [ ] group one
string(REGEX MATCHALL "#define [A-Z_]+_FIELD_LIST\\(X\\)[^\n]*" lists "${header}")
set(fields "-- generated from store/fields.h\n")
set(field_names "")
set(field_lines "")
foreach(def IN LISTS lists)
  string(REGEX MATCH "#define ([A-Z_]+)_FIELD_LIST" _ "${def}")
  set(list ${CMAKE_MATCH_1})
  string(REGEX MATCHALL " X\\([A-Z_]+\\)" members "${def}")
  set(k 0)
  foreach(m IN LISTS members)
    string(REGEX REPLACE " X\\(([A-Z_]+)\\)" "\\1" name "${m}")
    string(APPEND fields "local ${name} = ${k}\n")
    list(APPEND field_names ${name})
    list(APPEND field_lines "local ${name} = ${k}\n")
    math(EXPR k "${k} + 1")
  endforeach()
  string(APPEND fields "local ${list}_FIELDS = ${k}\n")
  list(APPEND field_names ${list}_FIELDS)
  list(APPEND field_lines "local ${list}_FIELDS = ${k}\n")
endforeach()
string(REGEX MATCHALL "#define [A-Z_]+_NAME_LIST\\(X\\)[^\n]*" name_lists "${header}")
foreach(def IN LISTS name_lists)
  string(REGEX MATCHALL " X\\([A-Z_]+, \"[^\"]*\"\\)" members "${def}")
  foreach(m IN LISTS members)
    string(REGEX REPLACE " X\\(([A-Z_]+), \"([^\"]*)\"\\)" "local \\1 = '\\2'\n" line "${m}")
    string(REGEX REPLACE " X\\(([A-Z_]+),.*" "\\1" name "${m}")
    string(APPEND fields "${line}")
    list(APPEND field_names ${name})
    list(APPEND field_lines "${line}")
  endforeach()
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
  set(libs "")
  foreach(req ${reqs})
    string(REGEX REPLACE "-- requires: " "" lib "${req}")
    file(READ ${SRC_DIR}/${lib} libtext)
    string(APPEND libs "${libtext}")
  endforeach()
  set(body "")
  if(text MATCHES "-- requires: fields\n" OR reqs)
    string(APPEND body "-- generated from store/fields.h\n")
    list(LENGTH field_names nfields)
    math(EXPR last "${nfields} - 1")
    foreach(i RANGE ${last})
      list(GET field_names ${i} fname)
      string(FIND "${libs}${text}" "${fname}" at)
      if(at GREATER -1)
        list(GET field_lines ${i} fline)
        string(APPEND body "${fline}")
      endif()
    endforeach()
  endif()
  string(APPEND body "${libs}")
  set(prelude "${body}")
  string(APPEND body "${text}")
  string(HEX "${body}" hex)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND out "const char lua_${name}[] = {${hex}0x00};\n")
  if(name IN_LIST FUNCTION_SCRIPTS)
    set(lib "#!lua name=@FN@\nlocal run\nredis.register_function('@FN@', function(KEYS, ARGV)\n")
    string(APPEND lib "if not run then run = (function()\n${prelude}\nreturn function(KEYS, ARGV)\n")
    string(APPEND lib "${text}\nend\nend)() end\nreturn run(KEYS, ARGV)\nend)\n")
    string(SHA1 sha "${lib}")
    string(SUBSTRING "${sha}" 0 12 sha)
    string(REPLACE "@FN@" "hookd_${name}_${sha}" lib "${lib}")
    string(HEX "${lib}" hex)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
    string(APPEND out "const char lua_fn_${name}[] = {${hex}0x00};\n")
  endif()
endforeach()
file(WRITE ${OUT} "${out}")
