//! Thing model, identifiers, values and the Message that travels the one path of data; validation. No I/O.
