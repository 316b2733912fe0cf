#include "dataplane/nft_client.h"

#include <fmt/format.h>
#include <nftables/libnftables.h>

namespace tabby::dataplane {
namespace {

class LibNftablesClient final : public NftClient {
 public:
  LibNftablesClient() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    nft_ctx_buffer_output(ctx_);
    nft_ctx_buffer_error(ctx_);
  }
  ~LibNftablesClient() override { nft_ctx_free(ctx_); }
  LibNftablesClient(const LibNftablesClient&) = delete;
  LibNftablesClient& operator=(const LibNftablesClient&) = delete;

  absl::Status Run(const std::string& script) override {
    nft_ctx_output_set_flags(ctx_, 0);
    int rc = nft_run_cmd_from_buffer(ctx_, script.c_str());
    std::string error = nft_ctx_get_error_buffer(ctx_);
    nft_ctx_get_output_buffer(ctx_);  // discard
    if (rc != 0) {
      return absl::InternalError(fmt::format("nftables transaction failed: {}", error));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> ListTableJson(const std::string& family,
                                                           const std::string& name) override {
    nft_ctx_output_set_flags(ctx_, NFT_CTX_OUTPUT_JSON);
    std::string command = fmt::format("list table {} {}", family, name);
    int rc = nft_run_cmd_from_buffer(ctx_, command.c_str());
    std::string output = nft_ctx_get_output_buffer(ctx_);
    std::string error = nft_ctx_get_error_buffer(ctx_);
    nft_ctx_output_set_flags(ctx_, 0);
    if (rc != 0) {
      if (error.find("No such file or directory") != std::string::npos) return std::nullopt;
      return absl::InternalError(
          fmt::format("cannot list nftables table {} {}: {}", family, name, error));
    }
    return std::optional<std::string>(std::move(output));
  }

 private:
  nft_ctx* ctx_;
};

}  // namespace

std::unique_ptr<NftClient> MakeLibNftablesClient() { return std::make_unique<LibNftablesClient>(); }

}  // namespace tabby::dataplane
