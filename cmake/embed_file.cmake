# Turns one file (IN) into `const char NAME[]` (NUL-terminated) and
# `const unsigned long NAME_len` in OUT: a document hookd serves as it is.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR n "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE ${OUT} "/* generated from ${IN} by cmake/embed_file.cmake */\nconst char ${NAME}[] = {${hex}0x00};\nconst unsigned long ${NAME}_len = ${n};\n")
