#include "base/files.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/temp_dir.h"

namespace tabby {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = test::TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<test::TempDir>(std::move(*dir));
  }
  std::string File(const std::string& name) const { return dir_->File(name); }
  std::unique_ptr<test::TempDir> dir_;
};

TEST_F(FilesTest, DirectoryChangesWakesOnAReplacedFile) {
  DirectoryChanges changes(dir_->path());
  ASSERT_TRUE(changes.watching());
  EXPECT_FALSE(changes.Wait(0)) << "nothing changed yet";
  // Written before the wait begins: the change is queued, not lost.
  ASSERT_TRUE(WriteFileAtomically(File("status.json"), "{}\n").ok());
  EXPECT_TRUE(changes.Wait(30'000));
  EXPECT_FALSE(changes.Wait(0)) << "one replacement wakes one wait";
  ASSERT_TRUE(WriteFileAtomically(File("status.json"), "{\"revision\": 2}\n").ok());
  EXPECT_TRUE(changes.Wait(30'000));
  EXPECT_EQ(*ReadFile(File("status.json")), "{\"revision\": 2}\n");
}

TEST_F(FilesTest, DirectoryChangesWithoutTheDirectoryOnlySleeps) {
  DirectoryChanges changes(File("missing"));
  EXPECT_FALSE(changes.watching());
  EXPECT_FALSE(changes.Wait(1));
}

}  // namespace
}  // namespace tabby
