# frozen_string_literal: true

require "json"

# Tools for reading feeds.
module Feeds
  DEFAULT_LIMIT = 20

  # A parsed feed entry.
  class Entry < Struct
    attr_reader :title, :url

    def initialize(title, url)
      @title = title
      @url = url
    end

    # The entry as a hash for JSON.
    def to_h
      { title: title, url: url }
    end
  end

  # Reads entries from a JSON document.
  class Reader
    def initialize(limit = DEFAULT_LIMIT)
      @limit = limit
    end

    # Parse a document into entries.
    def read(text)
      items = JSON.parse(text).fetch("items", [])
      items.first(@limit).map { |item| Entry.new(item["title"], item["url"]) }
    end

    def self.from_file(path)
      new.read(File.read(path))
    end
  end

  # Shorten a title for display.
  def self.shorten(title, width = 40)
    title.length > width ? "#{title[0, width - 1]}…" : title
  end
end
