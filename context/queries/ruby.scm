; Ruby tags. Definitions capture the name (@name.definition.*) and the whole node (@definition.*).

(module
  name: [(constant) (scope_resolution name: (constant))] @name.definition.module) @definition.module

(class
  name: [(constant) (scope_resolution name: (constant))] @name.definition.class) @definition.class

(singleton_class value: (constant) @name.definition.class) @definition.class

; A method at top level is a function; inside a class or module it is a method.
(method name: (_) @name.definition.function) @definition.function

(class
  body: (body_statement (method name: (_) @name.definition.method) @definition.method))

(module
  body: (body_statement (method name: (_) @name.definition.method) @definition.method))

(singleton_class
  body: (body_statement (method name: (_) @name.definition.method) @definition.method))

(singleton_method name: (_) @name.definition.method) @definition.method

(alias name: (_) @name.definition.method) @definition.method

(assignment left: (constant) @name.definition.constant) @definition.constant

; References.

((call method: (identifier) @name.reference.call)
  (#not-match? @name.reference.call
    "^(require|require_relative|attr_reader|attr_writer|attr_accessor|private|protected|public|module_function|include|extend|prepend|new)$"))

(call receiver: (constant) @name.reference.class)

(call receiver: (scope_resolution name: (constant) @name.reference.class))

(superclass [(constant) (scope_resolution name: (constant))] @name.reference.class)

(superclass (scope_resolution name: (constant) @name.reference.class))

(call
  method: (identifier) @_mixin
  arguments: (argument_list [(constant) (scope_resolution name: (constant))] @name.reference.class)
  (#any-of? @_mixin "include" "extend" "prepend"))
